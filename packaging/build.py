#!/usr/bin/env python3
"""Build the Denoiser Studio desktop bundle and its installers: ``python packaging/build.py``.

Steps, each cached where that is safe:
1. a dedicated build venv (``build/venv``) with only the runtime dependencies from
   pyproject.toml plus PyInstaller, so torch and the training stack can never leak in;
2. a fresh copy of the ``denoiser`` sources installed into it (version from pyproject);
3. PyInstaller with ``packaging/denoiser-studio.spec``: one folder, two executables;
4. checks (nothing trimmed sneaked back, every shared library resolves) and a size report;
5. per platform: Linux ``.tar.gz`` and ``.deb``; Windows Inno Setup; macOS ``.app`` + ``.dmg``.

See packaging/README.md for the options, the CUDA variant and what is verified where.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import string
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
sys.path.insert(0, str(PACKAGING))
import bundle_rules  # noqa: E402
import sizes  # noqa: E402

MiB = 1024 * 1024
MB = 1000 * 1000  # the budget is in decimal megabytes, the stricter reading
BUDGET_UNPACKED = 400 * MB  # Linux CPU bundle on disk
BUDGET_ARCHIVE = 150 * MB  # its .tar.gz
DEFAULT_PYINSTALLER = "pyinstaller>=6.0"
FALLBACK_MAINTAINER = "Denoiser Studio maintainers <maintainers@denoiser-studio.invalid>"
# Libraries the bundle takes from the OS (PyInstaller leaves out libc, GL, X11/xcb, fonts
# and D-Bus on purpose: they must match the user's system). Alternatives cover Debian 12,
# Debian 13 / Ubuntu 24.04 (the t64 renames) and older Ubuntu. libc6: the newest manylinux
# tag among the bundled wheels (PySide6-Essentials 6.11: manylinux_2_34).
DEB_DEPENDS = (
    "libc6 (>= 2.34)", "libgl1", "libegl1", "libfontconfig1", "libfreetype6",
    "libxkbcommon0", "libxkbcommon-x11-0", "libx11-6", "libx11-xcb1", "libxcb1",
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1",
    "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0",
    "libxcb-xkb1", "libdbus-1-3", "libglib2.0-0t64 | libglib2.0-0",
)
DEB_RECOMMENDS = ("libwayland-client0", "libwayland-cursor0", "libwayland-egl1")


class BuildError(RuntimeError):
    """A step failed; the message says which and what to do (printed without a traceback)."""


@dataclass(frozen=True)
class Options:
    """Command-line choices, resolved to absolute paths."""

    out: Path
    work: Path
    models: Path
    cuda: bool = False
    skip_deb: bool = False
    skip_archive: bool = False
    python: str = sys.executable
    deb_compression: str = "xz"
    enforce_budget: bool = True
    dry_run: bool = False
    sizes_md: Path | None = None
    command: str = ""  # the command line as typed, recorded in build-info.json


@dataclass
class BuildInfo:
    """What was built and how big it is; written to <out>/build-info.json for CI and tests."""

    version: str
    variant: str
    platform: str
    bundle: str = ""
    models: list[str] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    top_entries: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    system_libraries: list[str] = field(default_factory=list)  # needed, not bundled or here
    pruned_libraries: list[str] = field(default_factory=list)  # orphans taken out
    command: str = ""  # how this build was started, for the generated size page
    deb_compression: str = ""
    venv_reused: bool | None = None  # explains build times: a fresh venv downloads wheels
    budget: dict[str, int] = field(default_factory=dict)  # enforced limits, bytes
    model_sizes: dict[str, int] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)  # OS, glibc, Python, packages


# ----------------------------------------------------------------------------- options


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="python packaging/build.py",
        description="Build the Denoiser Studio bundle (PyInstaller, one folder) and the "
        "installers for this platform.")
    p.add_argument("--out", default=str(ROOT / "dist"), metavar="DIR",
                   help="where the bundle and installers go (default: dist/)")
    p.add_argument("--work", default=str(ROOT / "build"), metavar="DIR",
                   help="build venv, PyInstaller work files and staging; kept between runs "
                   "as a cache (default: build/)")
    p.add_argument("--models", default=str(ROOT / "resources" / "models"), metavar="DIR",
                   help="folder whose *.onnx files are shipped (default: resources/models)")
    p.add_argument("--cuda", action="store_true",
                   help="bundle onnxruntime-gpu instead of onnxruntime (separate venv; the "
                   "size budget is not enforced for it)")
    p.add_argument("--skip-deb", action="store_true", help="Linux: no .deb")
    p.add_argument("--skip-archive", action="store_true", help="Linux: no .tar.gz")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter the build venv is made from (default: this one)")
    p.add_argument("--deb-compression", choices=("xz", "gzip", "zstd"), default="xz",
                   help="dpkg-deb compressor (default xz: smallest, readable by every dpkg)")
    p.add_argument("--no-budget", action="store_true",
                   help="report the size budget but do not fail on it")
    p.add_argument("--sizes-md", metavar="FILE",
                   help="also write the size page (e.g. packaging/sizes.md) from this build")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    args = list(sys.argv[1:] if argv is None else argv)
    a = p.parse_args(args)
    return Options(out=Path(a.out).resolve(), work=Path(a.work).resolve(),
                   models=Path(a.models).resolve(), cuda=a.cuda, skip_deb=a.skip_deb,
                   skip_archive=a.skip_archive, python=a.python,
                   deb_compression=a.deb_compression, enforce_budget=not a.no_budget,
                   dry_run=a.dry_run,
                   sizes_md=Path(a.sizes_md).resolve() if a.sizes_md else None,
                   command=shlex.join(["python", "packaging/build.py", *args]))


# ----------------------------------------------------------------------------- project


def _toml_module():
    """tomllib (3.11+) or tomli: the build reads pyproject.toml, the one place for versions."""
    try:
        import tomllib
    except ModuleNotFoundError:
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError as e:
            raise BuildError("Python 3.10 needs `pip install tomli` to read pyproject.toml "
                             "(or run the build with Python 3.11+).") from e
    return tomllib


def read_pyproject(path: Path = ROOT / "pyproject.toml") -> dict:
    with path.open("rb") as f:
        return _toml_module().load(f)


def project_version(pyproject: dict) -> str:
    return str(pyproject["project"]["version"])


def runtime_requirements(pyproject: dict, cuda: bool) -> list[str]:
    """[project].dependencies, with onnxruntime swapped for onnxruntime-gpu in the CUDA variant.

    Why not `pip install .[cuda]`: both wheels install the same `onnxruntime` package folder,
    so the CPU one must not be installed at all in the CUDA venv.
    """
    reqs = list(pyproject["project"]["dependencies"])
    if not cuda:
        return reqs
    extra = pyproject["project"].get("optional-dependencies", {}).get("cuda", [])
    gpu = [r for r in extra if r.lower().startswith("onnxruntime-gpu")] or ["onnxruntime-gpu"]
    return [r for r in reqs if not _is_plain_onnxruntime(r)] + gpu


def _is_plain_onnxruntime(req: str) -> bool:
    name = req.split(";")[0]
    for sep in "<>=!~[ ":
        name = name.split(sep)[0]
    return name.strip().lower() == "onnxruntime"


def tool_requirements(pyproject: dict) -> list[str]:
    """PyInstaller (from the `package` extra) and the build backend (from [build-system])."""
    extras = pyproject["project"].get("optional-dependencies", {})
    packager = extras.get("package") or [DEFAULT_PYINSTALLER]
    backend = pyproject.get("build-system", {}).get("requires", ["setuptools", "wheel"])
    return list(packager) + list(backend)


def maintainer(pyproject: dict) -> str:
    people = pyproject["project"].get("maintainers") or pyproject["project"].get("authors")
    for person in people or []:
        if person.get("name") and person.get("email"):
            return f"{person['name']} <{person['email']}>"
    return FALLBACK_MAINTAINER


# ----------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


def run(cmd: Sequence[str | os.PathLike[str]], *, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> None:
    """Run a step with its output shown; a failure names the command."""
    printable = " ".join(str(c) for c in cmd)
    log(f"$ {printable}")
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise BuildError(f"`{printable}` failed with exit status {proc.returncode}.")


def venv_python(venv: Path) -> Path:
    if sys.platform.startswith("win"):
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def tree_size(folder: Path) -> int:
    """Bytes on disk as a user sees them unpacked (files and symlinks, not directories)."""
    total = 0
    for p in folder.rglob("*"):
        if p.is_symlink() or p.is_file():
            total += p.lstat().st_size
    return total


def human(n: float) -> str:
    return f"{n / MiB:.1f} MiB"


def human_both(n: float) -> str:
    """Sizes in the summary: MiB as tools show them, MB as the budget is stated."""
    return f"{n / MiB:.1f} MiB ({n / MB:.1f} MB)"


# ----------------------------------------------------------------------------- machine

PACKAGE_VERSIONS_SCRIPT = """
import json, platform, sys
from importlib import metadata
found = {"Python": platform.python_version()}
for name in sys.argv[1:]:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(found))
"""
REPORTED_PACKAGES = ("PyInstaller", "PySide6-Essentials", "onnxruntime", "onnxruntime-gpu",
                     "numpy", "Pillow")


def host_facts() -> dict[str, str]:
    """OS, C library, CPUs and load: what build times and glibc compatibility depend on."""
    try:
        os_name = platform.freedesktop_os_release()["PRETTY_NAME"]
    except (AttributeError, OSError, KeyError):
        os_name = platform.platform()
    facts = {"OS": os_name, "architecture": platform.machine(),
             "CPUs": str(os.cpu_count())}
    libc, libc_version = platform.libc_ver()
    if libc:
        facts["C library"] = f"{libc} {libc_version}"
    if hasattr(os, "getloadavg"):
        facts["load average at start (1, 5, 15 min)"] = ", ".join(
            f"{x:.2f}" for x in os.getloadavg())
    return facts


def package_versions(py: Path) -> dict[str, str]:
    """Python and the bundled packages' versions as installed in the build venv."""
    proc = subprocess.run([str(py), "-c", PACKAGE_VERSIONS_SCRIPT, *REPORTED_PACKAGES],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {}
    return json.loads(proc.stdout)


# ----------------------------------------------------------------------------- venv


def venv_stamp(requirements: Sequence[str], python: str) -> str:
    """Fingerprint of what the build venv must contain: recreate it when this changes."""
    probe = subprocess.run(
        [python, "-c", "import sys, platform; print(sys.version, platform.machine())"],
        capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise BuildError(f"cannot run the interpreter {python}: {probe.stderr.strip()}")
    blob = json.dumps({"reqs": sorted(requirements), "python": probe.stdout.strip()})
    return hashlib.sha256(blob.encode()).hexdigest()


def ensure_build_venv(venv: Path, requirements: Sequence[str],
                      python: str) -> tuple[Path, bool]:
    """Create (or reuse) a venv holding exactly `requirements`; returns its interpreter and
    whether it was reused.

    Cached by a stamp file because creating it downloads ~250 MB; a changed dependency list,
    PyInstaller pin or Python version makes a new one from scratch (no stale packages).
    """
    stamp_file = venv / ".denoiser-build-stamp"
    stamp = venv_stamp(requirements, python)
    py = venv_python(venv)
    if py.exists() and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        log(f"reusing build venv {venv}")
        return py, True
    if venv.exists():
        log(f"dependencies changed: recreating {venv}")
        shutil.rmtree(venv)
    run([python, "-m", "venv", venv])
    run([py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
         *requirements])
    stamp_file.write_text(stamp + "\n")
    return py, False


def stage_sources(work: Path) -> Path:
    """Copy pyproject, README and the `denoiser` package (nothing else) to <work>/src.

    Why a copy: installing from the repository would also install `training` and leave
    setuptools' build/ and egg-info folders in the tree; a fresh copy also guarantees no
    deleted module survives from an earlier build.
    """
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "denoiser", src / "denoiser",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


def install_app(py: Path, src: Path) -> None:
    run([py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
         "--no-deps", "--no-build-isolation", "--force-reinstall", src])


# ----------------------------------------------------------------------------- inputs


def models_to_bundle(models: Path) -> list[Path]:
    """The *.onnx files the bundle carries: a model whose int8 variant ships (``X-int8.onnx``,
    which ``training.quantize`` only lets through within 0.1 dB) goes as that variant alone,
    a third of the size, so that four models fit the download budget."""
    found = sorted(models.glob("*.onnx")) if models.is_dir() else []
    names = {f.stem for f in found}
    return [f for f in found if f"{f.stem}-int8" not in names]


def stage_models(models: Path, work: Path) -> list[Path]:
    """Copy the *.onnx files to ship into <work>/models (an empty folder is allowed)."""
    dest = work / "models"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    found = models_to_bundle(models)
    for f in found:
        shutil.copy2(f, dest / f.name)
    return [dest / f.name for f in found]


ICON_SCRIPT = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["icon"])
from denoiser.gui.icons import render_icon
if not render_icon(int(sys.argv[2])).save(sys.argv[1]):
    sys.exit("could not write " + sys.argv[1])
"""


def prepare_icon(py: Path, work: Path) -> Path:
    """The 256 px PNG app icon: resources/icons/denoiser-studio.png, else drawn by the app.

    The fallback uses the GUI's own drawing (denoiser.gui.icons.render_icon) in the build
    venv, so installers have an icon before a designed one is committed. The Windows .ico
    and macOS .icns are derived from it next to the copy in <work>/icons.
    """
    out = work / "icons" / f"{bundle_rules.APP_ID}.png"
    if out.parent.exists():
        shutil.rmtree(out.parent)
    out.parent.mkdir(parents=True)
    shipped = ROOT / "resources" / "icons" / out.name
    if shipped.is_file():
        shutil.copy2(shipped, out)
    else:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        run([py, "-c", ICON_SCRIPT, out, "256"], env=env)
    run([py, "-c", NATIVE_ICON_SCRIPT, out])
    return out


NATIVE_ICON_SCRIPT = """
import sys
from pathlib import Path
from PIL import Image
png = Path(sys.argv[1])
with Image.open(png) as im:
    im = im.convert("RGBA")
    im.save(png.with_suffix(".ico"), sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    im.save(png.with_suffix(".icns"))
"""


def native_icon(icon_png: Path) -> str | None:
    """What PyInstaller's `icon=` gets: the .ico on Windows, the .icns on macOS, nothing
    on Linux (ELF files have no icon; the .desktop entry names one)."""
    if sys.platform.startswith("win"):
        return str(icon_png.with_suffix(".ico"))
    if sys.platform == "darwin":
        return str(icon_png.with_suffix(".icns"))
    return None


# ----------------------------------------------------------------------------- pyinstaller


def run_pyinstaller(py: Path, opts: Options, version: str, models_dir: Path,
                    icon_png: Path) -> Path:
    """Build the one-folder bundle into <out>; returns its folder."""
    config = {
        "version": version, "cuda": opts.cuda, "models_dir": str(models_dir),
        "icons_dir": str(ROOT / "resources" / "icons"), "icon_png": str(icon_png),
        "icon_native": native_icon(icon_png),
        "pruned_report": str(opts.work / "pruned-libraries.json"),
    }
    cfg_file = opts.work / "pyinstaller-config.json"
    cfg_file.write_text(json.dumps(config, indent=2))
    env = {**os.environ, "DENOISER_PACKAGING_CONFIG": str(cfg_file),
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DENOISER_MODELS_DIR", None)
    variant = "cuda" if opts.cuda else "cpu"
    run([py, "-m", "PyInstaller", PACKAGING / "denoiser-studio.spec", "--noconfirm",
         "--log-level", "WARN", "--distpath", opts.out, "--workpath",
         opts.work / f"pyinstaller-{variant}"], env=env)
    bundle = opts.out / bundle_rules.APP_ID
    if not (bundle / exe_name(bundle_rules.CLI_NAME)).exists():
        raise BuildError(f"PyInstaller finished but {bundle} has no {bundle_rules.CLI_NAME}.")
    return bundle


def exe_name(name: str) -> str:
    return name + ".exe" if sys.platform.startswith("win") else name


def library_root(bundle: Path) -> Path:
    """sys._MEIPASS of a one-folder bundle: _internal/ (PyInstaller 6) or the folder itself."""
    internal = bundle / "_internal"
    return internal if internal.is_dir() else bundle


# ----------------------------------------------------------------------------- checks


def bundle_relpaths(bundle: Path) -> list[str]:
    lib = library_root(bundle)
    return [p.relative_to(lib).as_posix() for p in lib.rglob("*") if not p.is_dir()]


def check_trimmed(bundle: Path, cuda: bool) -> None:
    """Fail if anything the rules exclude (torch, QtQml, translations, ...) is in the bundle."""
    bad = bundle_rules.forbidden_in_bundle(bundle_relpaths(bundle), cuda)
    if bad:
        shown = ", ".join(bad[:8]) + (" ..." if len(bad) > 8 else "")
        raise BuildError(f"{len(bad)} excluded file(s) ended up in the bundle: {shown}")


def _system_libraries() -> set[str]:
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                         check=False).stdout
    return {line.split()[0] for line in out.splitlines()[1:] if line.strip()}


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def needed_libraries(bundle: Path) -> dict[str, list[str]]:
    """Linux: every shared-library name that a bundled ELF file needs -> who needs it."""
    if not sys.platform.startswith("linux") or not bundle_rules.can_read_elf():
        return {}
    needed: dict[str, list[str]] = {}
    for f in bundle.rglob("*"):
        if f.is_file() and not f.is_symlink() and _is_elf(f):
            for lib in bundle_rules.elf_needed(str(f)):
                needed.setdefault(lib, []).append(f.relative_to(bundle).as_posix())
    return needed


def check_libraries(bundle: Path, pruned: Sequence[str]) -> list[str]:
    """Fail when a kept file needs a library that trimming removed (a Qt library or an
    orphan-pruned one): on a user's machine that is a plugin or module that won't load,
    even where this build machine happens to have the library installed. Returns the
    other unresolved names, which users' systems must provide (see DEB_DEPENDS)."""
    needed = needed_libraries(bundle)
    present = {p.name for p in bundle.rglob("*")}
    missing = {lib: users for lib, users in needed.items() if lib not in present}
    broken = {lib: users for lib, users in missing.items()
              if lib.startswith("libQt6") or lib in set(pruned)}
    if broken:
        lib, users = sorted(broken.items())[0]
        raise BuildError(f"trimming removed {lib}, which {users[0]} still needs: "
                         "adjust packaging/bundle_rules.py")
    system = _system_libraries()
    return sorted(lib for lib in missing if lib not in system)


# ----------------------------------------------------------------------------- sizes


def _group_key(rel: str) -> str:
    """Size-report grouping: Qt split into libraries/plugins/bindings, others by package."""
    parts = rel.split("/")
    if parts[0] == "PySide6" and len(parts) > 2 and parts[1] == "Qt":
        return "PySide6/Qt/" + parts[2] + ("/" + parts[3] if parts[2] == "plugins"
                                           and len(parts) > 4 else "")
    if len(parts) == 1:
        return parts[0]  # a top-level shared library, e.g. libpython3.11.so.1.0
    return parts[0] + "/"


def size_breakdown(bundle: Path) -> list[tuple[str, int]]:
    """(group, bytes), biggest first: where the bundle's space goes."""
    lib = library_root(bundle)
    groups: dict[str, int] = {}
    for p in bundle.rglob("*"):
        if p.is_dir():
            continue
        size = p.lstat().st_size
        rel = p.relative_to(lib).as_posix() if p.is_relative_to(lib) else "(executables)"
        key = _group_key(rel) if rel != "(executables)" else rel
        groups[key] = groups.get(key, 0) + size
    return sorted(groups.items(), key=lambda kv: kv[1], reverse=True)


def largest_files(bundle: Path, n: int = 10) -> list[tuple[str, int]]:
    files = [(p.relative_to(bundle).as_posix(), p.lstat().st_size)
             for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    return sorted(files, key=lambda kv: kv[1], reverse=True)[:n]


def size_report(bundle: Path, top: int = 15) -> str:
    total = tree_size(bundle)
    lines = [f"bundle {bundle.name}: {human(total)} unpacked", "", "by component:"]
    breakdown = size_breakdown(bundle)
    for key, size in breakdown[:top]:
        lines.append(f"  {human(size):>11}  {100 * size / max(total, 1):5.1f}%  {key}")
    rest = sum(s for _, s in breakdown[top:])
    if rest:
        lines.append(f"  {human(rest):>11}  {100 * rest / max(total, 1):5.1f}%  "
                     f"({len(breakdown) - top} more)")
    lines += ["", "largest files:"]
    lines += [f"  {human(s):>11}  {name}" for name, s in largest_files(bundle)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- linux


def linux_arch() -> tuple[str, str]:
    """(machine name for file names, Debian architecture)."""
    machine = platform.machine().lower()
    deb = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    return machine, deb.get(machine, machine)


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def make_tarball(bundle: Path, out: Path, version: str, variant_suffix: str) -> Path:
    """<out>/denoiser-studio-<version>-linux-<arch>[-cuda].tar.gz with one top folder."""
    machine, _ = linux_arch()
    top = f"{bundle_rules.APP_ID}-{version}"
    archive = out / f"{top}-linux-{machine}{variant_suffix}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=top, filter=_root_owned)
    return archive


def render(template: Path, **values: str) -> str:
    return string.Template(template.read_text(encoding="utf-8")).substitute(values)


def launcher_script(program: str) -> str:
    return render(PACKAGING / "linux" / "launcher.sh.in", program=program,
                  app_id=bundle_rules.APP_ID)


def control_file(pyproject: dict, version: str, arch: str, installed_kib: int,
                 cuda: bool) -> str:
    """DEBIAN/control; empty lines (an unused field) are dropped so it stays one stanza."""
    package = bundle_rules.APP_ID + ("-cuda" if cuda else "")
    relations = ""
    if cuda:
        relations = (f"Provides: {bundle_rules.APP_ID}\nConflicts: {bundle_rules.APP_ID}\n"
                     f"Replaces: {bundle_rules.APP_ID}")
    text = render(PACKAGING / "linux" / "control.in", package=package, version=version,
                  arch=arch, maintainer=maintainer(pyproject),
                  installed_size=str(installed_kib), depends=", ".join(DEB_DEPENDS),
                  relations=relations + ("\n" if relations else "")
                  + f"Recommends: {', '.join(DEB_RECOMMENDS)}",
                  summary=pyproject["project"].get("description", "Image denoiser"))
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _normalise_modes(root: Path) -> None:
    """Directories 0755, files 0644 or 0755 (if executable): what dpkg and lintian expect,
    whatever umask the build ran under."""
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o755)
        else:
            p.chmod(0o755 if p.stat().st_mode & 0o111 else 0o644)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard links make staging 200 MB for dpkg-deb instant; copy across file systems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def stage_deb_root(bundle: Path, icon_png: Path, staging: Path) -> None:
    """The installed file tree: /opt/<app>, launchers, .desktop entry, icon."""
    if staging.exists():
        shutil.rmtree(staging)
    app_dir = staging / "opt" / bundle_rules.APP_ID
    app_dir.parent.mkdir(parents=True)
    shutil.copytree(bundle, app_dir, symlinks=True, copy_function=_link_or_copy)
    for program in (bundle_rules.CLI_NAME, bundle_rules.GUI_NAME):
        _write(staging / "usr" / "bin" / program, launcher_script(program), 0o755)
    apps = staging / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(PACKAGING / "linux" / f"{bundle_rules.APP_ID}.desktop", apps)
    icons = staging / "usr" / "share" / "icons" / "hicolor"
    (icons / "256x256" / "apps").mkdir(parents=True)
    shutil.copy2(icon_png, icons / "256x256" / "apps" / f"{bundle_rules.APP_ID}.png")
    svg = ROOT / "resources" / "icons" / f"{bundle_rules.APP_ID}.svg"
    if svg.is_file():
        (icons / "scalable" / "apps").mkdir(parents=True)
        shutil.copy2(svg, icons / "scalable" / "apps" / svg.name)


def make_deb(bundle: Path, icon_png: Path, pyproject: dict, opts: Options,
             version: str) -> Path:
    """<out>/denoiser-studio_<version>_<arch>.deb via `dpkg-deb --build --root-owner-group`."""
    _, arch = linux_arch()
    staging = opts.work / "deb-root"
    stage_deb_root(bundle, icon_png, staging)
    installed_kib = (tree_size(staging) + 1023) // 1024
    _write(staging / "DEBIAN" / "control",
           control_file(pyproject, version, arch, installed_kib, opts.cuda), 0o644)
    _normalise_modes(staging)
    package = bundle_rules.APP_ID + ("-cuda" if opts.cuda else "")
    deb = opts.out / f"{package}_{version}_{arch}.deb"
    run(["dpkg-deb", "--root-owner-group", f"-Z{opts.deb_compression}", "--build",
         staging, deb])
    return deb


def linux_deb(bundle: Path, icon_png: Path, opts: Options, pyproject: dict,
              info: BuildInfo) -> None:
    """The .deb, or a warning (not a failure) where dpkg-deb is missing, e.g. on Fedora."""
    if shutil.which("dpkg-deb") is None:
        info.warnings.append("dpkg-deb not found: no .deb built (--skip-deb silences this)")
        return
    deb = make_deb(bundle, icon_png, pyproject, opts, info.version)
    info.deb_compression = opts.deb_compression
    info.artifacts["deb"] = str(deb)
    info.sizes["deb"] = deb.stat().st_size


# ----------------------------------------------------------------------------- windows/mac


def windows_installer(bundle: Path, icon_png: Path, out: Path, version: str,
                      info: BuildInfo) -> None:
    """Inno Setup: compile packaging/windows/denoiser-studio.iss if ISCC is on PATH."""
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    if iscc is None:
        info.warnings.append("Inno Setup (ISCC.exe) not found: no Windows installer built; "
                             "see packaging/README.md.")
        return
    run([iscc, f"/DAppVersion={version}", f"/DSourceDir={bundle}", f"/DOutputDir={out}",
         f"/DIconFile={icon_png.with_suffix('.ico')}",
         PACKAGING / "windows" / f"{bundle_rules.APP_ID}.iss"])
    info.artifacts["installer"] = str(out / f"{bundle_rules.APP_ID}-{version}-setup.exe")


def macos_dmg(out: Path, version: str, info: BuildInfo) -> None:
    """hdiutil: a compressed .dmg with the .app and an /Applications link."""
    app = out / "Denoiser Studio.app"
    if not app.is_dir():
        raise BuildError(f"PyInstaller did not produce {app}.")
    dmg = out / f"{bundle_rules.APP_ID}-{version}-macos-{platform.machine()}.dmg"
    run(["bash", PACKAGING / "macos" / "make_dmg.sh", app, dmg])
    info.artifacts["app"] = str(app)
    info.artifacts["dmg"] = str(dmg)


# ----------------------------------------------------------------------------- main


def plan(opts: Options, pyproject: dict) -> dict[str, object]:
    """What a build would do, for --dry-run and the log."""
    variant = "cuda" if opts.cuda else "cpu"
    return {
        "version": project_version(pyproject), "variant": variant,
        "venv": str(opts.work / ("venv-cuda" if opts.cuda else "venv")),
        "requirements": runtime_requirements(pyproject, opts.cuda)
        + tool_requirements(pyproject),
        "models": [f.name for f in models_to_bundle(opts.models)],
        "out": str(opts.out), "platform": sys.platform,
    }


def check_budget(info: BuildInfo, opts: Options) -> None:
    """The CPU Linux bundle must stay under 400 MB unpacked and 150 MB as .tar.gz."""
    over = []
    if info.sizes.get("bundle_unpacked", 0) > BUDGET_UNPACKED:
        over.append(f"unpacked {info.sizes['bundle_unpacked'] / MB:.0f} MB > "
                    f"{BUDGET_UNPACKED / MB:.0f} MB")
    if info.sizes.get("tar_gz", 0) > BUDGET_ARCHIVE:
        over.append(f".tar.gz {info.sizes['tar_gz'] / MB:.0f} MB > "
                    f"{BUDGET_ARCHIVE / MB:.0f} MB")
    if not over:
        return
    msg = "size budget exceeded: " + "; ".join(over)
    if opts.enforce_budget and not opts.cuda:
        raise BuildError(msg + " (see the size report above; --no-budget to build anyway)")
    info.warnings.append(msg)


def build_bundle(opts: Options, pyproject: dict, info: BuildInfo) -> tuple[Path, Path]:
    """Venv, sources, icon, PyInstaller, checks; returns (bundle folder, icon PNG)."""
    t0 = time.monotonic()
    venv = opts.work / ("venv-cuda" if opts.cuda else "venv")
    py, info.venv_reused = ensure_build_venv(
        venv, runtime_requirements(pyproject, opts.cuda) + tool_requirements(pyproject),
        opts.python)
    info.machine.update(package_versions(py))
    install_app(py, stage_sources(opts.work))
    models = stage_models(opts.models, opts.work)
    info.models = [m.name for m in models]
    info.model_sizes = {m.name: m.stat().st_size for m in models}
    if not models:
        info.warnings.append(f"no *.onnx in {opts.models}: the bundle ships no model")
    icon_png = prepare_icon(py, opts.work)
    info.seconds["venv_and_install"] = round(time.monotonic() - t0, 1)
    t1 = time.monotonic()
    bundle = run_pyinstaller(py, opts, info.version, opts.work / "models", icon_png)
    info.seconds["pyinstaller"] = round(time.monotonic() - t1, 1)
    check_trimmed(bundle, opts.cuda)
    pruned = json.loads((opts.work / "pruned-libraries.json").read_text())
    info.pruned_libraries = pruned
    info.system_libraries = check_libraries(bundle, pruned)
    return bundle, icon_png


def package(bundle: Path, icon_png: Path, opts: Options, pyproject: dict,
            info: BuildInfo) -> None:
    """The platform's archives and installers, with their sizes in `info`."""
    suffix = "-cuda" if opts.cuda else ""
    t0 = time.monotonic()
    if sys.platform.startswith("linux"):
        if not opts.skip_archive:
            tgz = make_tarball(bundle, opts.out, info.version, suffix)
            info.artifacts["tar_gz"] = str(tgz)
            info.sizes["tar_gz"] = tgz.stat().st_size
            info.seconds["tar_gz"] = round(time.monotonic() - t0, 1)
        if not opts.skip_deb:
            t1 = time.monotonic()
            linux_deb(bundle, icon_png, opts, pyproject, info)
            info.seconds["deb"] = round(time.monotonic() - t1, 1)
    elif sys.platform.startswith("win"):
        windows_installer(bundle, icon_png, opts.out, info.version, info)
    elif sys.platform == "darwin":
        macos_dmg(opts.out, info.version, info)
    info.seconds["installers"] = round(time.monotonic() - t0, 1)


def write_reports(bundle: Path, opts: Options, info: BuildInfo) -> None:
    report = size_report(bundle)
    print(report, flush=True)
    (opts.out / "size-report.txt").write_text(report + "\n", encoding="utf-8")
    (opts.out / "build-info.json").write_text(json.dumps(asdict(info), indent=2) + "\n",
                                              encoding="utf-8")


def summary(info: BuildInfo) -> str:
    lines = [f"denoiser-studio {info.version} ({info.variant}) built in "
             f"{info.seconds.get('total', 0):.0f} s"]
    lines += [f"  {k}: {human_both(v)}" for k, v in info.sizes.items()]
    lines.append(f"  budget (Linux CPU): unpacked <= {BUDGET_UNPACKED / MB:.0f} MB, "
                 f".tar.gz <= {BUDGET_ARCHIVE / MB:.0f} MB")
    lines.append("  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in info.seconds.items()))
    lines += [f"  {k}: {v}" for k, v in info.artifacts.items()]
    if info.system_libraries:
        lines.append("  not bundled and not installed on this build machine (users' systems "
                     "provide them): " + ", ".join(info.system_libraries))
    lines += [f"  warning: {w}" for w in info.warnings]
    return "\n".join(lines)


def build(opts: Options) -> BuildInfo:
    started = time.monotonic()
    pyproject = read_pyproject()
    info = BuildInfo(version=project_version(pyproject),
                     variant="cuda" if opts.cuda else "cpu", platform=sys.platform,
                     command=opts.command, machine=host_facts())
    if not opts.cuda:
        info.budget = {"bundle_unpacked": BUDGET_UNPACKED, "tar_gz": BUDGET_ARCHIVE}
    opts.out.mkdir(parents=True, exist_ok=True)
    opts.work.mkdir(parents=True, exist_ok=True)
    bundle, icon_png = build_bundle(opts, pyproject, info)
    info.bundle = str(bundle)
    info.sizes["bundle_unpacked"] = tree_size(bundle)
    info.top_entries = size_breakdown(bundle)[:15]
    package(bundle, icon_png, opts, pyproject, info)
    info.seconds["total"] = round(time.monotonic() - started, 1)
    write_reports(bundle, opts, info)
    check_budget(info, opts)
    (opts.out / "build-info.json").write_text(json.dumps(asdict(info), indent=2) + "\n",
                                              encoding="utf-8")
    if opts.sizes_md:
        sizes.write_sizes_md(asdict(info), opts.sizes_md)
        log(f"wrote {opts.sizes_md}")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.dry_run:
        print(json.dumps(plan(opts, read_pyproject()), indent=2))
        return 0
    try:
        info = build(opts)
    except BuildError as e:
        print(f"build failed: {e}", file=sys.stderr)
        return 1
    print(summary(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
