"""Measure how long after a drop the first denoised pixels are on screen.

    python scripts/measure_first_result.py [--megapixels 24] [--repeat 3] [--model M]
                                           [--image PATH] [--no-draft] [--no-full]

Makes (or takes) a large noisy JPEG, opens the real window offscreen at a laptop-like
size, simulates a drop of the file and records, from the drop:
  shown    - the original is on screen (for a large JPEG first its reduced decode)
  preview  - the first denoised view is painted (view-first: the area in view)
  result   - the whole image is denoised (last drop only; skip with --no-full)
Each time is wall clock in the GUI thread, so it includes event-loop delivery.
``--no-draft`` waits for the full decode before anything, as the app did before drafts.
The last line (the median over the drops) is what ``benchmarks/make_docs.py --gui-log``
reads, with the first line's image size and model.
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


def breakdown(window, draft) -> str:
    """Where the time to the first preview went, from the worker jobs' own clocks."""
    st = window.session.last_timings
    (y0, x0, y1, x1), factor = st.get("plan", ((0, 0, 0, 0), 1))
    job = (f"engine {st.get('engine_s', 0):.2f} s, noise estimate done "
           f"{st.get('sigma_s', 0):.2f} s, first preview computed {st.get('denoise_s', 0):.2f} s "
           f"({-(-(x1 - x0) // factor)}x{-(-(y1 - y0) // factor)} px at 1/{factor})")
    t = window.timings
    full = (f"full pixels read {t.get('read', t['drop']) - t['drop']:.2f} s, full original "
            f"shown {t.get('full', t.get('shown', t['drop'])) - t['drop']:.2f} s after the drop")
    if draft is None:
        load = window.doc.extra.get("timing", {})
        return (f"  breakdown: no reduced decode; read_image {load.get('read', 0):.2f} s, display "
                f"conversion {load.get('display', 0):.2f} s; render job: {job}; {full}")
    h, w = draft.u8.shape[:2]
    return (f"  breakdown: reduced decode {draft.seconds:.2f} s (1/{draft.scale}, {w}x{h} px); "
            f"draft preview job: {job}; {full}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--megapixels", type=float, default=24.0)
    p.add_argument("--image", type=Path, help="use this photo instead of a synthetic one")
    p.add_argument("--model", help="model name or .onnx file")
    p.add_argument("--window", default="1280x800", help="window size WxH")
    p.add_argument("--no-full", action="store_true", help="stop after the first preview")
    p.add_argument("--no-draft", action="store_true",
                   help="no reduced decode first: wait for the full decode")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--repeat", type=int, default=1, help="drop the file this many times")
    return p.parse_args(argv)


class Driver:
    """Drives one window: drops the photo and waits for its signals."""

    def __init__(self, window, timeout: float) -> None:
        self.window, self.timeout = window, timeout
        self.drafts: list = []
        window.pipeline.loader.draftRead.connect(self.drafts.append)

    def wait(self, signal, give_up=None) -> None:
        """Run the event loop until ``signal`` fires, an error shows, or the timeout."""
        from PySide6.QtCore import QEventLoop, QTimer

        w = self.window
        give_up = give_up or (lambda: w.banner.level == "error" and w.banner.isVisible())
        loop = QEventLoop()
        signal.connect(loop.quit)
        poll = QTimer(interval=50)
        poll.timeout.connect(lambda: give_up() and loop.quit())
        poll.start()
        QTimer.singleShot(int(self.timeout * 1000), loop.quit)
        loop.exec()
        poll.stop()
        signal.disconnect(loop.quit)

    def wait_idle(self) -> None:
        runner = self.window.runner
        while runner.is_busy():
            self.wait(runner.busyChanged, give_up=lambda: not runner.is_busy())

    def drop(self, photo: Path) -> float:
        """Drop ``photo``; returns when the first preview is painted (perf_counter)."""
        from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
        from PySide6.QtGui import QDragEnterEvent, QDropEvent
        from PySide6.QtWidgets import QApplication

        w, md = self.window, QMimeData()
        md.setUrls([QUrl.fromLocalFile(str(photo))])
        self.drafts.clear()
        pos = QPointF(w.width() / 2, w.height() / 2)
        buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        QApplication.sendEvent(w, QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction,
                                                  md, buttons, keys))
        QApplication.sendEvent(w, QDropEvent(pos, Qt.DropAction.CopyAction, md, buttons, keys))
        self.wait(w.previewShown)
        QApplication.processEvents()  # let the paint happen
        w.view.active_canvas().repaint()
        return time.perf_counter()

    def wait_full_original(self) -> None:
        doc = self.window.doc
        if doc is None or doc.original is None or self.window.pipeline.draft is not None:
            self.wait(self.window.documentShown)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from denoiser.gui.app import make_app
    from denoiser.gui.main_window import MainWindow
    from denoiser.gui.settings import AppSettings

    app = make_app(["measure"])  # noqa: F841 - the application must outlive the window
    with tempfile.TemporaryDirectory() as tmp:
        photo = args.image or make_photo(Path(tmp) / "big.jpg", args.megapixels)
        window = MainWindow(AppSettings(Path(tmp) / "s.ini"), model=args.model)
        window.resize(*(int(v) for v in args.window.split("x")))
        window.show()
        window.pipeline.loader.drafts = not args.no_draft
        driver = Driver(window, args.timeout)
        driver.wait_idle()
        model = window.controls.model_picker.current()
        if model is None:
            print("no model available", file=sys.stderr)
            return 1
        firsts = [run_once(driver, photo, run, args) for run in range(args.repeat)]
        if None in firsts:
            return 1
        firsts.sort()
        print(f"first denoised view painted: median {firsts[len(firsts) // 2]:.2f} s, "
              f"best {firsts[0]:.2f} s, worst {firsts[-1]:.2f} s over {len(firsts)} drops")
        window.cancel_render()
        window.runner.shutdown(60000)
        window.close()
    return 0


def run_once(driver: Driver, photo: Path, run: int, args: argparse.Namespace) -> float | None:
    """One drop: prints its times; returns drop-to-painted seconds (None: no preview)."""
    window = driver.window
    if run:  # let the previous image's background work stop first
        window.cancel_render()
        driver.wait_idle()
    painted = driver.drop(photo)
    t = window.timings
    if "preview" not in t:
        print(f"no preview: {window.banner.text() or 'timed out'}", file=sys.stderr)
        return None
    driver.wait_full_original()
    if not args.no_full and run == args.repeat - 1:
        driver.wait(window.resultShown)
    if run == 0:
        w_img, h_img = window.doc.size
        print(f"image {w_img}x{h_img} ({w_img * h_img / 1e6:.1f} MP), model "
              f"{window.controls.model_picker.current().name}, window {args.window}, "
              f"{os.cpu_count()} CPU threads")
    print(f"run {run + 1}: original shown {t['shown'] - t['drop']:.2f} s, first denoised "
          f"view {t['preview'] - t['drop']:.2f} s (painted {painted - t['drop']:.2f} s)")
    if "result" in t:
        print(f"  whole image        {t['result'] - t['drop']:6.2f} s")
    print(breakdown(window, driver.drafts[-1] if driver.drafts else None))
    return painted - t["drop"]


if __name__ == "__main__":
    sys.exit(main())
