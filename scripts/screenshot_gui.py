"""Open the window on a photo, wait for the denoised result in split view, save a screenshot.

    python scripts/screenshot_gui.py --image noisy.png --out docs/screenshot.png [--model M]

Works offscreen (QT_QPA_PLATFORM=offscreen, the default here when no display is set) and
under Xvfb. Settings go to a temporary file, so the user's own settings are untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True, type=Path, help="photo to open")
    p.add_argument("--out", required=True, type=Path, help="PNG to write")
    p.add_argument("--model", help="model name or .onnx file")
    p.add_argument("--size", default="1440x900", help="window size, WxH (default 1440x900)")
    p.add_argument("--zoom", default="fit", help="'fit' or a percentage such as 200")
    p.add_argument("--split", type=float, default=0.5, help="divider position, 0..1")
    p.add_argument("--mode", default="split", choices=("split", "side"))
    p.add_argument("--layer", default="result", choices=("result", "residual", "uncertainty"))
    p.add_argument("--loupe", action="store_true", help="show the loupe")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the result")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from PySide6.QtCore import QEventLoop, QTimer

    from denoiser.gui.app import make_app
    from denoiser.gui.main_window import MainWindow
    from denoiser.gui.settings import AppSettings

    app = make_app(["screenshot_gui"])
    w_px, h_px = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(AppSettings(Path(tmp) / "settings.ini"), model=args.model)
        window.resize(w_px, h_px)
        window.show()
        loop = QEventLoop()
        state: dict[str, str] = {}

        def wait(signal, what: str) -> bool:
            signal.connect(loop.quit)
            timer = QTimer(singleShot=True, interval=int(args.timeout * 1000))
            timer.timeout.connect(lambda: (state.update(timeout=what), loop.quit()))
            timer.start()
            loop.exec()
            timer.stop()
            signal.disconnect(loop.quit)
            return "timeout" not in state

        if window.runner.is_busy():
            wait(window.runner.busyChanged, "models")
        if window.controls.model_picker.current() is None:
            print("no model available", file=sys.stderr)
            return 1
        window.set_view_mode(args.mode)
        window.open_file(args.image)
        if not wait(window.resultShown, "result"):
            print(f"timed out waiting for the {state['timeout']}; banner: "
                  f"{window.banner.text()!r}", file=sys.stderr)
            return 1
        layer_action = {"result": window.actions_.layer_result,
                        "residual": window.actions_.layer_residual,
                        "uncertainty": window.actions_.layer_uncertainty}[args.layer]
        layer_action.trigger()
        canvas = window.view.active_canvas()
        if args.zoom != "fit":
            z = float(args.zoom.rstrip("%")) / 100 * canvas.devicePixelRatioF()
            canvas.set_zoom(z)
        window.view.split_canvas.set_split(args.split)
        if args.loupe:
            window.actions_.loupe.setChecked(True)
            c = canvas.center()
            window.view.loupe.look_at(c.x() + 40, c.y())
        app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.out))
        print(f"{'wrote' if ok else 'could not write'} {args.out}: {window.status_text.text()}")
        window.close()
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
