"""The batch work function: plan, then denoise a list of files one after another (worker
thread).

Planning reads each file's header when the model follows the file's channels, which on a
long queue or a network folder takes long enough to freeze a window, so it runs here too.
Failures are per file: a corrupt file is marked and the queue goes on. Cancelling stops
between tiles; the file being written is written atomically by the core, so a cancel
never leaves a partial output, and finished outputs stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from denoiser.cancel import CancelToken
from denoiser.errors import Cancelled, DenoiserError, ImageWriteError
from denoiser.gui import backend, batch_plan
from denoiser.gui.batch_plan import FORMATS
from denoiser.gui.qtcompat import emit
from denoiser.gui.saving import save_pixels, settings_note
from denoiser.gui.workers import Job


class OutputExists(ImageWriteError):
    """The result file is already there and replacing was not asked for."""


@dataclass
class BatchOptions:
    model: Any
    sigma: float | None  # None = estimate per image
    device: str = "auto"
    tile: int = 0  # 0: the model's own tile (Engine.default_tile)
    fmt: str = "same"
    quality: int = 95
    keep_metadata: bool = True
    note: bool = True
    overwrite: bool = False
    # the model for an image's channel count, when the user has not picked one (else None)
    model_for: Callable[[int], Any] | None = None


@dataclass
class BatchTask:
    """One row of the queue as the worker sees it."""

    index: int
    source: Path
    output: Path | None = None  # set by the plan
    token: CancelToken = field(default_factory=CancelToken)
    model: Any = None  # None: the batch's model


@dataclass
class BatchPlan:
    """Where the results go: the panel's output folder and naming pattern."""

    out_dir: str
    pattern: str
    roots: list[Path | None] = field(default_factory=list)  # each task's dropped folder


def plan_and_run(job: Job, tasks: list[BatchTask], opts: BatchOptions,
                 where: BatchPlan) -> dict[str, int] | None:
    """Choose each file's model and output, then :func:`run_batch`.

    A plan that would overwrite an input or write two results to one file is refused as a
    whole before any work: ("refused", message) is posted and None returned. Otherwise each
    task's output is posted as ("planned", i, path) before the first file starts.
    """
    sources = [batch_plan.Source(t.source, root)
               for t, root in zip(tasks, where.roots or [None] * len(tasks), strict=True)]
    models = batch_plan.file_models(sources, opts.model, opts.model_for)
    try:
        planned = batch_plan.plan(sources, where.out_dir, where.pattern, opts.fmt,
                                  model=[getattr(m, "name", "") for m in models],
                                  sigma=opts.sigma)
    except ValueError as e:
        job.post(("refused", str(e)))
        return None
    for task, (_, dst), model in zip(tasks, planned, models, strict=True):
        task.output, task.model = dst, model
        job.post(("planned", task.index, str(dst)))
    return run_batch(job, tasks, opts)


def run_batch(job: Job, tasks: list[BatchTask], opts: BatchOptions) -> dict[str, int]:
    """Process ``tasks``; reports via ``job.post``:
    ("start", i), ("progress", i, f), ("done", i, path), ("error", i, msg), ("cancelled", i).
    """
    counts = {"done": 0, "error": 0, "cancelled": 0}
    engines: dict[int, Any] = {}  # one per model, loaded when its first file comes
    for n, task in enumerate(tasks):
        if job.is_cancelled or task.token.cancelled:
            job.post(("cancelled", task.index))
            counts["cancelled"] += 1
            continue
        job.post(("start", task.index))
        try:
            model = task.model if task.model is not None else opts.model
            if id(model) not in engines:
                engines[id(model)] = backend.get_engine(model, opts.device)
            out = _one(job, engines[id(model)], model, task, opts, n, len(tasks))
        except Cancelled:
            job.post(("cancelled", task.index))
            counts["cancelled"] += 1
        except DenoiserError as e:
            job.post(("error", task.index, str(e)))
            counts["error"] += 1
        except MemoryError:
            job.post(("error", task.index, "Not enough memory; try a smaller tile size."))
            counts["error"] += 1
        except OSError as e:
            job.post(("error", task.index, f"Could not access the file ({e.strerror or e})."))
            counts["error"] += 1
        else:
            job.post(("done", task.index, str(out)))
            counts["done"] += 1
    return counts


def _one(job: Job, engine: Any, model: Any, task: BatchTask, opts: BatchOptions,
         n: int, total: int) -> Path:
    def check() -> None:
        if job.is_cancelled or task.token.cancelled:
            raise Cancelled("cancelled")

    def progress(f: float) -> None:
        job.post(("progress", task.index, f))
        emit(job.progress, (n + f) / max(total, 1), task.source.name)
        check()

    if task.output is None:
        raise ValueError("a batch task has no output: plan it first")
    if not opts.overwrite and task.output.exists():  # before any slow work
        raise OutputExists(f"{task.output.name} already exists; tick “Replace existing "
                           "results” to overwrite it.")
    loaded = backend.read_image(task.source)
    check()
    pixels = np.asarray(loaded.pixels, dtype=np.float32)
    sigma = opts.sigma
    if sigma is None and not getattr(model, "blind", False):
        sigma = backend.estimate_sigma(pixels, noise_type=backend.model_noise_type(model))
    result = backend.denoise(engine, pixels, sigma, tile=opts.tile, progress=progress,
                             cancel=task.token)
    check()  # last chance: once writing starts, the file is finished atomically
    _, depth = FORMATS[opts.fmt]
    task.output.parent.mkdir(parents=True, exist_ok=True)
    device = str(getattr(engine, "device", ""))
    note = settings_note(model, sigma, device) if opts.note else None
    return save_pixels(task.output, result, loaded=loaded, alpha=getattr(loaded, "alpha", None),
                       bit_depth=depth, quality=opts.quality, overwrite=opts.overwrite,
                       keep_metadata=opts.keep_metadata, note=note)
