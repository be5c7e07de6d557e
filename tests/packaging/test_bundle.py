"""End to end: build the Linux bundle once, then use it as a person would.

One build per test session (a module-scoped fixture): ``python packaging/build.py`` makes
its own build venv (runtime dependencies + PyInstaller only), so this needs nothing but
network access to the package index and dpkg-deb. Until trained models are committed to
resources/models, a small Gaussian-blur model (tiny_denoiser.py) is built and shipped.
Everything runs with a scrubbed environment so nothing from the developer's setup (a
DENOISER_MODELS_DIR, user models, PYTHONPATH) can make a broken bundle pass.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLES = ROOT / "resources" / "samples"
SHIPPED_MODELS = ROOT / "resources" / "models"
BUILD_TIMEOUT_S = 50 * 60
RUN_TIMEOUT_S = 300
MB = 1000 * 1000  # the budget is in decimal megabytes
MIN_PSNR_GAIN_DB = 3.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundle only"),
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed"),
]


@dataclass(frozen=True)
class Built:
    """The build's outputs, as build.py reported them in build-info.json."""

    out: Path
    info: dict
    bundle: Path
    tarball: Path
    deb: Path
    version: str


def _load_bundle_rules():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import bundle_rules
    finally:
        sys.path.pop(0)
    return bundle_rules


def _models_to_ship(tmp: Path) -> Path:
    """resources/models once trained models are committed; a generated test model until then."""
    if any(SHIPPED_MODELS.glob("*.onnx")):
        return SHIPPED_MODELS
    sys.path.insert(0, str(HERE))  # tiny_denoiser needs onnx (the dev extra): no skip
    try:
        from tiny_denoiser import MODEL_NAME, make_model
    finally:
        sys.path.pop(0)
    make_model(tmp / "models" / f"{MODEL_NAME}.onnx")
    return tmp / "models"


def clean_env(home: Path) -> dict[str, str]:
    """The user's environment minus anything that could point the app elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "QT_", "DENOISER_")) and k != "LD_LIBRARY_PATH"}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
               QT_QPA_PLATFORM="offscreen")
    return env


def run_app(cmd: list[str | Path], home: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], env=clean_env(home), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, check=False, **kw)


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("bundle")
    out = tmp / "dist"
    models = _models_to_ship(tmp)
    log = tmp / "build.log"
    cmd = [sys.executable, str(ROOT / "packaging" / "build.py"), "--out", str(out),
           "--models", str(models), "--deb-compression", "zstd"]
    env = {k: v for k, v in os.environ.items() if k != "DENOISER_MODELS_DIR"}
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                              timeout=BUILD_TIMEOUT_S, check=False, cwd=ROOT)
    if proc.returncode != 0:
        pytest.fail(f"build failed (exit {proc.returncode}):\n{_tail(log)}")
    print(_tail(log, 40))  # the size report and summary, visible with -s
    info = json.loads((out / "build-info.json").read_text())
    return Built(out=out, info=info, bundle=Path(info["bundle"]),
                 tarball=Path(info["artifacts"]["tar_gz"]), deb=Path(info["artifacts"]["deb"]),
                 version=info["version"])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# ----------------------------------------------------------------------------- the bundle


def test_version_comes_from_pyproject(built: Built, tmp_path: Path) -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: build.py needs tomli there as well
        import tomli as tomllib
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert built.version == expected
    proc = run_app([built.bundle / "denoiser", "--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout


def test_sizes_stay_within_budget(built: Built) -> None:
    sizes = built.info["sizes"]
    assert sizes["bundle_unpacked"] <= 400 * MB
    assert sizes["tar_gz"] <= 150 * MB
    assert 0 < sizes["deb"] <= sizes["tar_gz"] * 1.2
    assert built.info["top_entries"], "build.py should report what takes the space"
    assert (built.out / "size-report.txt").is_file()


def test_bundle_leaves_out_what_the_app_does_not_use(built: Built) -> None:
    rules = _load_bundle_rules()
    lib = built.bundle / "_internal"
    rel = [p.relative_to(lib).as_posix() for p in lib.rglob("*") if not p.is_dir()]
    assert rules.forbidden_in_bundle(rel) == []
    tops = {r.split("/")[0] for r in rel}
    for name in ("torch", "torchvision", "onnx", "scipy", "matplotlib", "training", "tests",
                 "tkinter", "cv2"):
        assert name not in tops
    assert not any("/translations/" in r or "QtQml" in r or "WebEngine" in r for r in rel)
    assert not any("onnxruntime_providers_cuda" in r for r in rel)
    # what must be there: the models and the offscreen/xcb platform plugins
    assert any(r.startswith("resources/models/") and r.endswith(".onnx") for r in rel)
    assert "PySide6/Qt/plugins/platforms/libqoffscreen.so" in rel
    assert "PySide6/Qt/plugins/platforms/libqxcb.so" in rel


def test_bundled_cli_denoises_the_sample(built: Built, tmp_path: Path) -> None:
    noisy, clean = SAMPLES / "noisy-sample.png", SAMPLES / "clean-sample.png"
    result = tmp_path / "denoised.png"
    proc = run_app([built.bundle / "denoiser", "denoise", noisy, "-o", result,
                    "--device", "cpu"], tmp_path / "home", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = psnr(read_rgb(noisy), read_rgb(clean))
    after = psnr(read_rgb(result), read_rgb(clean))
    assert after >= before + MIN_PSNR_GAIN_DB, f"PSNR {before:.2f} -> {after:.2f} dB"


def test_bundled_gui_passes_its_self_check(built: Built, tmp_path: Path) -> None:
    proc = run_app([built.bundle / "denoiser-gui", "--self-check"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-check passed" in proc.stdout


def test_tarball_runs_wherever_it_is_unpacked(built: Built, tmp_path: Path) -> None:
    with tarfile.open(built.tarball) as tar:
        members = tar.getmembers()
        assert all(m.uid == 0 and m.gid == 0 for m in members)
        # extraction filters came in Python 3.11.4 (Debian 12's python3 is 3.11.2)
        safe = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
        tar.extractall(tmp_path / "x", **safe)
    (top,) = (tmp_path / "x").iterdir()
    assert top.name == f"denoiser-studio-{built.version}"
    proc = run_app([top / "denoiser", "models", "--json"], tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    models = json.loads(proc.stdout)
    listed = models["models"] if isinstance(models, dict) else models
    assert listed, proc.stdout
    assert all(Path(m["path"]).is_relative_to(top.resolve()) for m in listed)


# ----------------------------------------------------------------------------- the .deb


def deb_field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def deb_root(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(built.deb), str(root)], check=True)
    return root


def test_deb_metadata_and_ownership(built: Built) -> None:
    assert deb_field(built.deb, "Package") == "denoiser-studio"
    assert deb_field(built.deb, "Version") == built.version
    assert deb_field(built.deb, "Architecture")
    assert "libxcb-cursor0" in deb_field(built.deb, "Depends")
    listing = subprocess.run(["dpkg-deb", "-c", str(built.deb)], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    assert listing and all(line.split()[1] == "root/root" for line in listing)


def test_deb_installs_app_desktop_entry_icon_and_launchers(deb_root: Path) -> None:
    from PIL import Image

    app = deb_root / "opt" / "denoiser-studio"
    assert (app / "denoiser").is_file() and (app / "denoiser-gui").is_file()
    for name in ("denoiser", "denoiser-gui"):
        launcher = deb_root / "usr" / "bin" / name
        assert launcher.is_file() and os.access(launcher, os.X_OK)
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str  # keys are case-sensitive
    desktop.read(deb_root / "usr/share/applications/denoiser-studio.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Exec"].split()[0] == "denoiser-gui"
    assert entry["Icon"] == "denoiser-studio"
    icon = deb_root / "usr/share/icons/hicolor/256x256/apps/denoiser-studio.png"
    with Image.open(icon) as im:
        assert im.size == (256, 256)
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate",
                               str(deb_root / "usr/share/applications/denoiser-studio.desktop")],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deb_launcher_runs_the_unpacked_app(deb_root: Path, tmp_path: Path) -> None:
    proc = run_app([deb_root / "usr/bin/denoiser-gui", "--self-check"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_app([deb_root / "usr/bin/denoiser", "models"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the launcher must have run the copy under deb_root, not an installed /opt one
    assert str(deb_root / "opt" / "denoiser-studio") in proc.stdout
