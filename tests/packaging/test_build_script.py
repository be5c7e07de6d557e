"""Fast checks of packaging/build.py and bundle_rules.py that need no PyInstaller build.

Why separate from test_bundle.py: the trimming rules, the Debian metadata and the
launcher's path resolution each break in ways a ten-minute build would only show late.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_modules import load

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


build = load("denoiser_packaging_build", "build.py")
rules = build.bundle_rules


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return build.read_pyproject(ROOT / "pyproject.toml")


# ----------------------------------------------------------------------------- project


def test_version_and_requirements_come_from_pyproject(pyproject: dict) -> None:
    assert build.project_version(pyproject) == pyproject["project"]["version"]
    cpu = build.runtime_requirements(pyproject, cuda=False)
    assert cpu == pyproject["project"]["dependencies"]
    assert not any("torch" in r for r in cpu)
    tools = build.tool_requirements(pyproject)
    assert any(r.lower().startswith("pyinstaller") for r in tools)


def test_cuda_variant_swaps_onnxruntime_for_onnxruntime_gpu(pyproject: dict) -> None:
    reqs = build.runtime_requirements(pyproject, cuda=True)
    assert any(r.startswith("onnxruntime-gpu") for r in reqs)
    assert not any(build._is_plain_onnxruntime(r) for r in reqs)
    assert build._is_plain_onnxruntime("onnxruntime>=1.17")
    assert build._is_plain_onnxruntime("onnxruntime ; python_version>'3'")
    assert not build._is_plain_onnxruntime("onnxruntime-gpu>=1.17")


def test_dry_run_prints_a_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--dry-run", "--cuda"]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime-gpu" in out and "venv-cuda" in out


# ----------------------------------------------------------------------------- trimming


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/platforms/qwindows.dll",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "PySide6/Qt/lib/libQt6Widgets.so.6",
    "PySide6/Qt/lib/libQt6XcbQpa.so.6",
    "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so",
    "onnxruntime/capi/libonnxruntime_providers_shared.so",
    "resources/models/ae-color.onnx",
    "numpy.libs/libscipy_openblas64_-32a4b2a6.so",
])
def test_rules_keep_what_the_app_uses(dest: str) -> None:
    assert rules.keep_entry(dest)


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/translations/qtbase_de.qm",
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/plugins/imageformats/libqpdf.so",
    "PySide6/Qt/lib/libQt6Qml.so.6",
    "PySide6/Qt/lib/libQt6Quick.so.6",
    "PySide6/Qt/lib/libQt6Network.so.6",
    "PySide6/Qt/lib/libQt6EglFsKmsSupport.so.6",
    "libQt6Pdf.so.6",
    "torch/lib/libtorch_cpu.so",
    "scipy/linalg/_flapack.so",
    "onnxruntime/capi/libonnxruntime_providers_cuda.so",
    "onnxruntime/capi/libonnxruntime_providers_tensorrt.so",
])
def test_rules_drop_what_the_app_does_not_use(dest: str) -> None:
    assert not rules.keep_entry(dest)


def test_cuda_build_keeps_the_cuda_provider_only() -> None:
    assert rules.keep_entry("onnxruntime/capi/libonnxruntime_providers_cuda.so", cuda=True)
    assert not rules.keep_entry("onnxruntime/capi/libonnxruntime_providers_tensorrt.so",
                                cuda=True)


def test_orphaned_libraries_are_pruned_transitively() -> None:
    needed = {
        "/src/ext.so": ["libA.so.1"],
        "/src/libA.so.1": ["libB.so.2"],
        "/src/plugin.so": [],
        "/src/_ssl.so": ["libssl.so.3"],
    }
    binaries = [
        ("pkg/ext.so", "/src/ext.so", "BINARY"),
        ("python3.11/lib-dynload/_ssl.so", "/src/_ssl.so", "EXTENSION"),
        ("libssl.so.3", "/src/libssl.so.3", "BINARY"),
        ("libA.so.1", "/src/libA.so.1", "BINARY"),
        ("libB.so.2", "/src/libB.so.2", "BINARY"),
        ("libcairo.so.2", "/src/libcairo.so.2", "BINARY"),  # only a dropped plugin used it
        ("libpython3.11.so.1.0", "/src/libpython", "BINARY"),
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
        ("pkg/plugin.so", "/src/plugin.so", "BINARY"),
    ]
    after = rules.prune_orphans(binaries, lambda src: needed.get(src, []))
    assert {e[0] for e in after} == {
        "pkg/ext.so", "libA.so.1", "libB.so.2", "libpython3.11.so.1.0", "libQt6Core.so.6",
        "pkg/plugin.so", "python3.11/lib-dynload/_ssl.so", "libssl.so.3"}
    assert rules.pruned_names(binaries, after) == ["libcairo.so.2"]


def test_size_groups_split_qt_and_keep_packages_together() -> None:
    assert build._group_key("PySide6/Qt/lib/libQt6Core.so.6") == "PySide6/Qt/lib"
    assert build._group_key("PySide6/Qt/plugins/platforms/libqxcb.so") == \
        "PySide6/Qt/plugins/platforms"
    assert build._group_key("numpy/_core/x.so") == "numpy/"
    assert build._group_key("libpython3.11.so.1.0") == "libpython3.11.so.1.0"


# ----------------------------------------------------------------------------- linux files


def _control_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith(" "):
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


@pytest.mark.parametrize("cuda", [False, True])
def test_control_file_is_one_valid_stanza(pyproject: dict, cuda: bool) -> None:
    text = build.control_file(pyproject, "1.2.3", "amd64", 12345, cuda)
    assert "\n\n" not in text and text.endswith("\n")
    fields = _control_fields(text)
    assert fields["Package"] == ("denoiser-studio-cuda" if cuda else "denoiser-studio")
    assert fields["Version"] == "1.2.3"
    assert fields["Installed-Size"] == "12345"
    assert "<" in fields["Maintainer"] and ">" in fields["Maintainer"]
    assert fields["Description"]
    assert ("Conflicts" in fields) == cuda


def test_desktop_entry_launches_the_gui_with_the_app_icon() -> None:
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str
    desktop.read(PACKAGING / "linux" / "denoiser-studio.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "denoiser-gui %F"
    assert entry["Icon"] == rules.APP_ID
    assert entry["StartupWMClass"] == rules.APP_ID  # matches setDesktopFileName in the app


@pytest.mark.skipif(shutil.which("sh") is None or sys.platform.startswith("win"),
                    reason="needs a POSIX shell")
def test_launcher_finds_the_app_relative_to_itself(tmp_path: Path) -> None:
    """The /usr/bin script must run <root>/opt/denoiser-studio/<program> for any root,
    also when reached through a symlink (e.g. from /usr/local/bin)."""
    root = tmp_path / "root"
    target = root / "opt" / rules.APP_ID / "denoiser"
    target.parent.mkdir(parents=True)
    target.write_text('#!/bin/sh\necho "ran $0 with $*"\n')
    target.chmod(0o755)
    launcher = root / "usr" / "bin" / "denoiser"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(build.launcher_script("denoiser"))
    launcher.chmod(0o755)
    link = tmp_path / "elsewhere" / "denoiser"
    link.parent.mkdir()
    os.symlink(launcher, link)
    for cmd in (launcher, link):
        out = subprocess.run([str(cmd), "a b", "c"], capture_output=True, text=True,
                             check=True).stdout
        assert out.strip() == f"ran {launcher.parent}/../../opt/{rules.APP_ID}/denoiser " \
            "with a b c"


def test_launcher_falls_back_to_the_installed_location() -> None:
    text = build.launcher_script("denoiser-gui")
    assert f'app="/opt/{rules.APP_ID}"' in text
    assert 'exec "$app/denoiser-gui" "$@"' in text


# ----------------------------------------------------------------------------- windows/mac


def test_inno_setup_script_takes_what_build_py_passes() -> None:
    iss = (PACKAGING / "windows" / "denoiser-studio.iss").read_text()
    for define in ("AppVersion", "SourceDir", "OutputDir", "IconFile"):
        assert f"#{'ifndef' if define != 'IconFile' else 'ifdef'} {define}" in iss
    assert "denoiser-gui.exe" in iss and "recursesubdirs" in iss


def test_spec_builds_two_executables_and_a_mac_bundle() -> None:
    spec = (PACKAGING / "denoiser-studio.spec").read_text()
    assert spec.count("EXE(") == 2 and spec.count("COLLECT(") == 1
    assert "BUNDLE(" in spec and "hdiutil" in (PACKAGING / "macos" / "make_dmg.sh").read_text()


def test_a_model_with_a_shipped_int8_variant_goes_as_the_variant(tmp_path: Path) -> None:
    for name in ("ae-color", "ae-color-int8", "ae-gray"):
        (tmp_path / f"{name}.onnx").write_bytes(b"x")
    assert [p.name for p in build.models_to_bundle(tmp_path)] == ["ae-color-int8.onnx",
                                                                 "ae-gray.onnx"]
