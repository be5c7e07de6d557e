"""``denoiser-gui --self-check``: a smoke test of the installed app, for installers.

It goes through the same pieces a person uses (QApplication, main window, worker
thread, engine) but without showing anything, and reports one line.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np


def synthetic_image(size: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with sigma-25 Gaussian noise (float32, 0..1)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    clean = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * np.sin(6 * x * y)], axis=-1)
    rng = np.random.default_rng(seed)
    return (clean + rng.normal(0, 25 / 255, clean.shape)).astype(np.float32)


def run_self_check(model: str | None = None, device: str = "auto",
                   timeout_s: float = 120.0) -> int:
    """0 when a model loads and denoises a small image in a worker thread, else 1."""
    try:
        from PySide6.QtCore import QEventLoop, QTimer

        from denoiser.gui import backend
        from denoiser.gui.app import make_app
        from denoiser.gui.main_window import MainWindow
        from denoiser.gui.settings import AppSettings
        from denoiser.gui.workers import Job
    except Exception as e:  # noqa: BLE001 - any import failure is the message
        print(f"self-check failed: could not import the GUI ({e})", file=sys.stderr)
        return 1
    app = make_app(["denoiser-gui"])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(AppSettings(f"{tmp}/settings.ini"), model=model, device=device)
        noisy = synthetic_image()
        outcome: dict[str, object] = {}

        def work(job: Job) -> tuple[str, str, float, float]:
            info = backend.find_model(model) if model else backend.default_model(3)
            engine = backend.get_engine(info, device)
            t0 = time.perf_counter()
            out = backend.denoise(engine, noisy, 25.0, tile=64, cancel=job.token)
            if out.shape != noisy.shape or not np.isfinite(out).all():
                raise RuntimeError(f"the model returned shape {out.shape} or non-finite values")
            return info.name, engine.device, time.perf_counter() - t0, float(np.std(out - noisy))

        loop = QEventLoop()
        job = window.runner.submit(
            work, "self-check",
            succeeded=lambda r: (outcome.update(ok=r), loop.quit()),
            failed=lambda m: (outcome.update(error=m), loop.quit()),
        )
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        window.runner.shutdown(5000)
        window.close()
        del job
    del app
    if "ok" in outcome:
        name, dev, secs, removed = outcome["ok"]  # type: ignore[misc]
        print(f"self-check passed: {name} on {dev.upper()} denoised a 96x96 image in "
              f"{secs:.2f} s (removed noise std {removed * 255:.1f}/255)")
        return 0
    msg = outcome.get("error", f"no answer within {timeout_s:.0f} s")
    print(f"self-check failed: {msg}", file=sys.stderr)
    return 1
