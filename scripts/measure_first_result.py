"""Measure how long after a drop the first denoised pixels are on screen.

    python scripts/measure_first_result.py [--megapixels 24] [--model M] [--image PATH]

Makes (or takes) a large noisy JPEG, opens the real window offscreen at a laptop-like
size, simulates a drop of the file and records, from the drop:
  shown    - the original is on screen (file decoded and converted for display)
  preview  - the first denoised view is painted (view-first: the area in view)
  result   - the whole image is denoised (skip with --no-full)
Each time is wall clock in the GUI thread, so it includes event-loop delivery.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_photo(path: Path, megapixels: float, seed: int = 0) -> Path:
    """A 3:2 noisy JPEG: smooth shading plus edges and sigma-20 noise."""
    import numpy as np
    from PIL import Image

    w = int((megapixels * 1e6 * 1.5) ** 0.5)
    h = int(w / 1.5)
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), np.uint8)
    for c, (a, b) in enumerate(((0.6, 0.3), (0.4, 0.5), (0.3, 0.2))):
        chan = 0.2 + a * xx + b * yy + 0.15 * ((np.floor(xx * 12) + np.floor(yy * 8)) % 2)
        chan = chan + rng.standard_normal((h, w), dtype=np.float32) * (20 / 255)
        img[:, :, c] = np.clip(chan * 255 + 0.5, 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, quality=92)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--megapixels", type=float, default=24.0)
    p.add_argument("--image", type=Path, help="use this photo instead of a synthetic one")
    p.add_argument("--model", help="model name or .onnx file")
    p.add_argument("--window", default="1280x800", help="window size WxH")
    p.add_argument("--no-full", action="store_true", help="stop after the first preview")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--repeat", type=int, default=1, help="drop the file this many times")
    args = p.parse_args(argv)

    from PySide6.QtCore import QEventLoop, QMimeData, QPointF, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from denoiser.gui.app import make_app
    from denoiser.gui.main_window import MainWindow
    from denoiser.gui.settings import AppSettings

    app = make_app(["measure"])
    with tempfile.TemporaryDirectory() as tmp:
        photo = args.image or make_photo(Path(tmp) / "big.jpg", args.megapixels)
        window = MainWindow(AppSettings(Path(tmp) / "s.ini"), model=args.model)
        ww, wh = (int(v) for v in args.window.split("x"))
        window.resize(ww, wh)
        window.show()
        def wait(signal, give_up=lambda: window.banner.level == "error"
                 and window.banner.isVisible()) -> None:
            """Run the event loop until ``signal`` fires, an error shows, or the timeout."""
            loop = QEventLoop()
            signal.connect(loop.quit)
            poll = QTimer(interval=50)
            poll.timeout.connect(lambda: give_up() and loop.quit())
            poll.start()
            QTimer.singleShot(int(args.timeout * 1000), loop.quit)
            loop.exec()
            poll.stop()
            signal.disconnect(loop.quit)

        if window.runner.is_busy():
            wait(window.runner.busyChanged, give_up=lambda: not window.runner.is_busy())
        model = window.controls.model_picker.current()
        if model is None:
            print("no model available", file=sys.stderr)
            return 1
        md = QMimeData()
        md.setUrls([QUrl.fromLocalFile(str(photo))])
        firsts: list[float] = []
        for run in range(args.repeat):
            if run:  # let the previous image's background work stop first
                window.session.cancel()
                while window.runner.is_busy():
                    wait(window.runner.busyChanged, give_up=lambda: not window.runner.is_busy())
            enter = QDragEnterEvent(QPointF(ww / 2, wh / 2).toPoint(), Qt.DropAction.CopyAction,
                                    md, Qt.MouseButton.LeftButton,
                                    Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(window, enter)
            drop = QDropEvent(QPointF(ww / 2, wh / 2), Qt.DropAction.CopyAction, md,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(window, drop)
            wait(window.previewShown)
            app.processEvents()  # let the paint happen
            window.view.active_canvas().repaint()
            painted = time.perf_counter()
            t = window.timings
            if "preview" not in t:
                print(f"no preview: {window.banner.text() or 'timed out'}", file=sys.stderr)
                return 1
            if not args.no_full and run == args.repeat - 1:
                wait(window.resultShown)
            w_img, h_img = window.doc.size
            if run == 0:
                print(f"image {w_img}x{h_img} ({w_img * h_img / 1e6:.1f} MP), model "
                      f"{model.name}, window {ww}x{wh}, {os.cpu_count()} CPU threads")
            firsts.append(painted - t["drop"])
            print(f"run {run + 1}: original shown {t['shown'] - t['drop']:.2f} s, first denoised "
                  f"view {t['preview'] - t['drop']:.2f} s (painted {painted - t['drop']:.2f} s)")
            if "result" in t:
                print(f"  whole image        {t['result'] - t['drop']:6.2f} s")
            load = window.doc.extra.get("timing", {})
            st = window.session.last_timings
            (y0, x0, y1, x1), factor = st.get("quick_plan", ((0, 0, 0, 0), 1))
            print(f"  breakdown: read_image {load.get('read', 0):.2f} s, display conversion "
                  f"{load.get('display', 0):.2f} s; render job: noise estimate done "
                  f"{st.get('sigma_s', 0):.2f} s, first preview computed "
                  f"{st.get('quick_s', 0):.2f} s ({(x1 - x0) // factor}x{(y1 - y0) // factor} "
                  f"px at 1/{factor})")
        firsts.sort()
        print(f"first denoised view painted: median {firsts[len(firsts) // 2]:.2f} s, "
              f"best {firsts[0]:.2f} s, worst {firsts[-1]:.2f} s over {len(firsts)} drops")
        window.session.cancel()
        window.runner.shutdown(60000)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
