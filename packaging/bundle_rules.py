"""What goes into the bundle and what is trimmed out of it.

Shared by the PyInstaller spec (which filters the collected files) and by build.py (which
checks the finished bundle against the same rules), so the two never disagree. Kept free
of PyInstaller imports: the tests import it with the project's own Python.

Why trim at all: PyInstaller's Qt hooks collect every translation and many plugins, and a
stray optional import (``numpy`` -> ``scipy``, ``PIL`` -> ``tkinter``, ``onnxruntime`` ->
``torch``) can drag gigabytes in. The app only needs QtCore/QtGui/QtWidgets, onnxruntime's
CPU (or CUDA) provider, numpy and Pillow.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

APP_ID = "denoiser-studio"
DIST_NAME = "denoiser-studio"  # the distribution name in pyproject.toml
CLI_NAME = "denoiser"
GUI_NAME = "denoiser-gui"

# Python packages the frozen app must never contain. The build venv does not even have
# most of them; listing them still stops PyInstaller from following optional imports when
# someone builds from a fuller environment.
EXCLUDED_MODULES: tuple[str, ...] = (
    "torch", "torchvision", "torchaudio", "triton", "functorch",
    "training", "tests", "onnx", "onnxscript", "onnx_ir",
    "scipy", "matplotlib", "pandas", "sympy", "cv2", "skimage", "bm3d", "sklearn",
    "IPython", "jupyter", "notebook", "pytest", "_pytest", "pytestqt", "hypothesis",
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2",
    "setuptools", "pkg_resources", "pip", "wheel",
    # Qt modules the app does not use (PySide6-Essentials ships some of them)
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2", "PySide6.QtQuick3D", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.Qt3DCore", "PySide6.QtMultimedia",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtXml",
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtPrintSupport",
    "PySide6.QtConcurrent", "PySide6.QtDBus", "PySide6.QtSvgWidgets",
)

# Qt plugin folders kept whole; anything not named here (or in QT_PLUGIN_FILTERS) goes.
QT_PLUGIN_DIRS_KEPT: tuple[str, ...] = (
    "platforminputcontexts", "iconengines", "styles",
    "xcbglintegrations", "wayland-decoration-client", "wayland-graphics-integration-client",
    "wayland-shell-integration",
)
# Qt plugin folders of which only some files are kept: file names containing one of these.
QT_PLUGIN_FILTERS: dict[str, tuple[str, ...]] = {
    # offscreen for --self-check and CI, xcb/wayland on Linux desktops, the native ones
    # on Windows and macOS
    "platforms": ("offscreen", "xcb", "wayland", "windows", "cocoa", "minimal."),
    # svg and ico for icons; jpeg/gif because QFileDialog previews may show them. Image
    # files themselves are read with Pillow, not Qt.
    "imageformats": ("svg", "ico", "jpeg", "gif", "icns"),
    # The portal theme gives native file dialogs through D-Bus. The gtk3 theme is left out:
    # it loads the user's GTK 3 into the process next to the bundle's own copies of glib,
    # cairo and pango (pulled in for it), a classic source of symbol clashes and crashes in
    # frozen apps, and it costs ~10 MB. Qt's own style is used instead.
    "platformthemes": ("xdgdesktopportal",),
}

# Shared libraries that only trimmed Qt modules or plugins use (file-name prefixes).
QT_LIBS_DROPPED: tuple[str, ...] = (
    "Qt6Qml", "Qt6Quick", "Qt6Pdf", "Qt6WebEngine", "Qt63D", "Qt6Multimedia",
    "Qt6Designer", "Qt6Help", "Qt6Labs", "Qt6Lottie", "Qt6Sql", "Qt6Test",
    "Qt6VirtualKeyboard", "Qt6ShaderTools", "Qt6EglFS", "Qt6EglFs", "Qt6Network",
    "Qt6Concurrent", "Qt6PrintSupport", "Qt6OpenGLWidgets", "Qt6SvgWidgets",
    "Qt6StateMachine", "Qt6Xml", "Qt6UiTools", "Qt6Charts", "Qt6DataVisualization",
    "Qt6Graphs", "Qt6SpatialAudio", "Qt6TextToSpeech", "Qt6WaylandCompositor",
)

# onnxruntime execution providers that cannot load in the given variant. The CPU build
# never has a GPU runtime; the CUDA build has no TensorRT (not shipped, not required).
ORT_PROVIDERS_DROPPED_CPU: tuple[str, ...] = (
    "onnxruntime_providers_cuda", "onnxruntime_providers_tensorrt",
    "onnxruntime_providers_rocm", "onnxruntime_providers_migraphx",
    "onnxruntime_providers_openvino",
)
ORT_PROVIDERS_DROPPED_CUDA: tuple[str, ...] = (
    "onnxruntime_providers_tensorrt", "onnxruntime_providers_rocm",
    "onnxruntime_providers_migraphx", "onnxruntime_providers_openvino",
)


def _parts(dest: str) -> tuple[str, ...]:
    return PurePosixPath(dest.replace("\\", "/")).parts


def _qt_subpath(parts: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path below PySide6's Qt folder (``PySide6/Qt/...``), or None if not Qt's."""
    if len(parts) >= 3 and parts[0] == "PySide6" and parts[1] == "Qt":
        return parts[2:]
    return None


def _keep_qt_plugin(rest: tuple[str, ...]) -> bool:
    if len(rest) < 2:
        return True
    folder, name = rest[0], rest[-1]
    if folder in QT_PLUGIN_DIRS_KEPT:
        return True
    wanted = QT_PLUGIN_FILTERS.get(folder)
    return wanted is not None and any(w in name for w in wanted)


def _is_dropped_qt_lib(name: str) -> bool:
    stem = name[3:] if name.startswith("lib") else name
    return any(stem.startswith(prefix) for prefix in QT_LIBS_DROPPED)


def keep_entry(dest: str, cuda: bool = False) -> bool:
    """False for a bundle path (relative to the bundle's library folder) the app never uses.

    Why by destination path and not by source: the same rules then apply to PyInstaller's
    TOC entries (while building) and to files on disk (when checking a finished bundle).
    """
    parts = _parts(dest)
    if not parts:
        return True
    name = parts[-1]
    qt = _qt_subpath(parts)
    if qt is not None:
        if qt[0] == "translations":
            return False
        if qt[0] == "plugins" and not _keep_qt_plugin(qt[1:]):
            return False
        if qt[0] == "qml":
            return False
    if name.startswith(("libQt6", "Qt6")) and _is_dropped_qt_lib(name):
        return False
    dropped = ORT_PROVIDERS_DROPPED_CUDA if cuda else ORT_PROVIDERS_DROPPED_CPU
    if any(name.startswith(p) or name.startswith("lib" + p) for p in dropped):
        return False
    top = parts[0].split(".")[0]
    return top not in {m.split(".")[0] for m in EXCLUDED_MODULES if "." not in m}


def filter_toc(entries: Iterable[tuple], cuda: bool = False) -> list[tuple]:
    """The PyInstaller TOC entries (dest, src, kind) that keep_entry keeps."""
    return [e for e in entries if keep_entry(e[0], cuda)]


def forbidden_in_bundle(relpaths: Iterable[str], cuda: bool = False) -> list[str]:
    """Paths of a finished bundle that the rules say must not be there (for checks/tests)."""
    return sorted(p for p in relpaths if not keep_entry(p, cuda))


def _is_shared_library(name: str) -> bool:
    return ".so" in name or name.endswith((".dll", ".dylib"))


def _kind(entry: tuple) -> str:
    return entry[2] if len(entry) >= 3 else "BINARY"


def pruned_names(before: Iterable[tuple], after: Iterable[tuple]) -> list[str]:
    """File names prune_orphans removed, so build.py can prove nothing kept needs them."""
    kept = {PurePosixPath(e[0]).name for e in after}
    return sorted({PurePosixPath(e[0]).name for e in before} - kept)


def prune_orphans(binaries: Iterable[tuple], needed_of: Callable[[str], list[str]]
                  ) -> list[tuple]:
    """Drop top-level shared libraries that no kept binary needs any more.

    Why: PyInstaller resolves dependencies before the spec trims plugins, so the libraries
    only a trimmed plugin used (GTK's cairo, pango, ... for the gtk3 theme) would stay.
    Roots are the binaries inside package folders (extension modules, Qt's own libraries,
    kept plugins) and libpython; a top-level library stays if the NEEDED entries
    (`needed_of(source path)`) of the roots reach it, directly or through other libraries.
    """
    entries = list(binaries)
    top = {PurePosixPath(e[0]).name: e for e in entries
           if "/" not in e[0].replace("\\", "/") and _is_shared_library(e[0])
           and not e[0].startswith("libpython") and _kind(e) == "BINARY"}
    # roots: every real file (BINARY or EXTENSION) that is not a pruning candidate;
    # SYMLINK entries only point at files that are roots themselves
    queue = [e for e in entries if PurePosixPath(e[0]).name not in top]
    reached: set[str] = set()
    while queue:
        entry = queue.pop()
        if _kind(entry) == "SYMLINK":
            continue
        for lib in needed_of(entry[1]):
            if lib in top and lib not in reached:
                reached.add(lib)
                queue.append(top[lib])
    return [e for e in entries if PurePosixPath(e[0]).name not in top
            or PurePosixPath(e[0]).name in reached]


def elf_needed(path: str) -> list[str]:
    """The DT_NEEDED names of an ELF file (readelf); [] for anything else."""
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                         check=False).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines()
            if "(NEEDED)" in line and "[" in line]


def can_read_elf() -> bool:
    """Orphan pruning needs readelf (binutils); without it the bundle is just less trimmed."""
    return shutil.which("readelf") is not None
