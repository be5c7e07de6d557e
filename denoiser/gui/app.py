"""Entry point: ``denoiser-gui [FILES...] [--model M] [--device D] [--settings INI]``.

``--self-check`` is the installer's smoke test: it starts Qt offscreen, loads the
default model (or ``--model``), denoises a small synthetic image through the same
worker and engine path the window uses, and exits 0, or 1 with one sentence on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import denoiser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="denoiser-gui",
        description="Desktop image denoiser: drop a noisy photo in, compare, save.")
    p.add_argument("paths", nargs="*", help="images or folders to open")
    p.add_argument("--model", help="model name or .onnx file to use")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to run the model")
    p.add_argument("--settings", help="settings file to use instead of the usual place")
    p.add_argument("--self-check", action="store_true",
                   help="check that the app, the model and the engine work, then exit")
    p.add_argument("--version", action="version", version=f"%(prog)s {denoiser.__version__}")
    return p.parse_args(argv)


def make_app(argv: Sequence[str]) -> object:
    """The QApplication, with high-DPI rounding that keeps 100 % pixel-exact."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv))
    app.setApplicationName("denoiser-studio")
    app.setOrganizationName("denoiser-studio")
    app.setApplicationVersion(denoiser.__version__)
    app.setDesktopFileName("denoiser-studio")
    from denoiser.gui.icons import app_icon

    app.setWindowIcon(app_icon())
    from denoiser.gui import qtcompat

    qtcompat.install(app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.self_check:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from denoiser.gui.self_check import run_self_check

        return run_self_check(args.model, args.device or "auto")

    app = make_app([sys.argv[0]])
    from denoiser.gui.main_window import MainWindow
    from denoiser.gui.settings import AppSettings

    window = MainWindow(AppSettings(args.settings), model=args.model, device=args.device)
    window.show()
    if args.paths:
        window.open_paths(args.paths)
    return int(app.exec())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
