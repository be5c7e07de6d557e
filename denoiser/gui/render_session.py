"""Schedules denoising of the open image: the view first, then the whole image.

Why a separate object: the window should only compose widgets, and the rules for
"what to compute next" (debounce the strength slider, drop stale jobs, preview what is
on screen, then the full image, then a second model) are easier to test without one.

Every job carries a generation number; results from an older generation are ignored,
so a fast slider never shows a stale picture, and cancelled jobs simply fade out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QRectF, QTimer, Signal

from denoiser.gui import backend, preview
from denoiser.gui.document import Document, Rendered, blend_uncertain, render_pictures
from denoiser.gui.picture import Patch
from denoiser.gui.qimage_convert import (
    amplify_residual,
    array_to_qimage,
    reduce_uint8,
    residual_gain,
)
from denoiser.gui.qtcompat import emit
from denoiser.gui.workers import Job, JobRunner

DEBOUNCE_MS = 180
VIEW_DEBOUNCE_MS = 250


@dataclass(frozen=True)
class RenderParams:
    """Everything that decides what the result looks like."""

    model: Any  # denoiser.models.ModelInfo
    sigma: float | None = None  # None = Auto (estimated)
    device: str = "auto"
    tile: int = 512
    samples: int = 0  # VAE samples for the uncertainty view (0 = off)
    blend: float = 0.0  # lean toward the original where the VAE is unsure
    compare_model: Any = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def key(self, sigma_used: float | None) -> tuple:
        s = None if sigma_used is None else round(float(sigma_used), 2)
        return (str(getattr(self.model, "path", self.model)), s, self.samples,
                round(self.blend, 2))


@dataclass
class PreviewPatch:
    box: tuple[int, int, int, int]
    factor: int
    result: Patch
    residual: Patch
    generation: int = 0  # patches of one generation (same settings) can be layered


class RenderSession(QObject):
    """Runs render jobs for one document at a time and reports in GUI-thread signals."""

    engineReady = Signal(str, str)  # device actually used, fallback reason ("" if none)
    sigmaEstimated = Signal(float)
    previewReady = Signal(object)  # PreviewPatch
    resultReady = Signal(object)  # Rendered
    compareReady = Signal(object)  # Rendered for the second model
    progress = Signal(float, str)
    runningChanged = Signal(bool)
    failed = Signal(str)

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.doc: Document | None = None
        self.params: RenderParams | None = None
        self._view: tuple[tuple[int, int, int, int], float] = ((0, 0, 0, 0), 1.0)
        self._gen = 0
        self._main: Job | None = None
        self._preview: Job | None = None
        self._compare: Job | None = None
        self._done: list[tuple[tuple[int, int, int, int], int]] = []  # previewed areas
        self._restart = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._restart.timeout.connect(self.start_now)
        self._view_timer = QTimer(self, singleShot=True, interval=VIEW_DEBOUNCE_MS)
        self._view_timer.timeout.connect(self._preview_view)
        self._spot: tuple[tuple[int, int, int, int], float] | None = None
        self._spot_timer = QTimer(self, singleShot=True, interval=VIEW_DEBOUNCE_MS // 2)
        self._spot_timer.timeout.connect(self._preview_spot_now)
        self.want_compare = False
        self._warmed: tuple[str, str] | None = None
        self._main_params: RenderParams | None = None
        self.last_timings: dict[str, float] = {}

    # ----- inputs ----------------------------------------------------------------
    def set_document(self, doc: Document | None,
                     view: tuple[tuple[int, int, int, int], float] | None = None) -> None:
        """A new image: start at once (no debounce), view first.

        ``view`` (box, zoom) is the area that will be in view, for an image not shown yet.
        """
        self.doc = doc
        if view is not None:
            self._view = view
        self._done = []
        if doc is None:
            self.cancel()
            return
        self.start_now()

    def set_params(self, params: RenderParams, immediate: bool = False) -> None:
        """New settings: re-render after a short pause so a dragged slider stays fluid."""
        old, self.params = self.params, params
        self.warm_up(params)
        if self.doc is None:
            return
        if self.is_current():  # e.g. device or second model changed, or changed back
            self._restart.stop()
            if (self.want_compare and params.compare_model is not None
                    and (self.doc.compare is None or old is None
                         or old.compare_model != params.compare_model)):
                self.start_compare()
            return
        if (_alive(self._main) and self._main_params is not None
                and replace(self._main_params, compare_model=None)
                == replace(params, compare_model=None)):
            self._restart.stop()  # the running render already makes this result
            return
        if immediate:
            self.start_now()
        else:
            self._restart.start()

    def warm_up(self, params: RenderParams) -> None:
        """Start the model's session now, so the first drop does not wait for it.

        Creating an onnxruntime session takes up to a second; the core caches engines,
        so doing it as soon as a model is chosen takes that off the first result.
        """
        key = (str(getattr(params.model, "path", params.model)), params.device)
        if key == self._warmed:
            return
        self._warmed = key

        def work(job: Job) -> tuple[str, str]:
            engine = backend.get_engine(params.model, params.device)
            return (str(getattr(engine, "device", params.device)),
                    str(getattr(engine, "fallback_reason", "") or ""))

        self.runner.submit(work, "warm-up",
                           succeeded=lambda r: emit(self.engineReady, *r),
                           failed=lambda m: emit(self.failed, m))

    def set_view(self, box: tuple[int, int, int, int], zoom: float) -> None:
        """The user panned or zoomed; preview the new area if the result is not there yet."""
        self._view = (box, zoom)
        if self.doc is not None and not self.is_current():
            self._view_timer.start()

    def is_current(self) -> bool:
        """True when the document's full result matches the current settings."""
        doc, params = self.doc, self.params
        if doc is None or params is None or doc.rendered is None:
            return False
        sigma = params.sigma if params.sigma is not None else doc.sigma_estimate
        return doc.rendered.key == params.key(sigma)

    def is_running(self) -> bool:
        return any(_alive(j) and j.isRunning() for j in (self._main, self._preview,
                                                         self._compare))

    def cancel(self) -> None:
        """Stop everything for this document (the cancel button)."""
        self._gen += 1
        self._restart.stop()
        self._view_timer.stop()
        for job in (self._main, self._preview, self._compare):
            if _alive(job):
                job.cancel()
        self._main = self._preview = self._compare = None
        emit(self.runningChanged, False)

    # ----- jobs ------------------------------------------------------------------
    def start_now(self) -> None:
        self._restart.stop()
        doc, params = self.doc, self.params
        if doc is None or params is None:
            return
        self.cancel()
        gen = self._gen
        if self._reblend(doc, params, gen):
            return
        box, zoom = self._view
        if box[2] <= box[0] or box[3] <= box[1]:
            box = (0, 0, doc.pixels.shape[0], doc.pixels.shape[1])
        self._done = []
        self._main_params = params
        t0 = time.perf_counter()
        self.last_timings = {"start": t0}

        stages = self.last_timings

        def work(job: Job) -> Any:
            engine = backend.get_engine(params.model, params.device)
            stages["engine_s"] = time.perf_counter() - t0
            yield ("engine", str(getattr(engine, "device", params.device)),
                   str(getattr(engine, "fallback_reason", "") or ""))
            sigma = yield from _resolve_sigma(doc, params)
            stages["sigma_s"] = time.perf_counter() - t0
            quick = preview.plan(box, zoom, preview.QUICK_BUDGET_PX)
            fine = preview.plan(box, zoom, preview.PREVIEW_BUDGET_PX)
            stages["quick_plan"] = quick  # type: ignore[assignment]
            yield ("preview", _make_preview(engine, doc, sigma, *quick))
            stages["quick_s"] = time.perf_counter() - t0
            if fine != quick:
                yield ("preview", _make_preview(engine, doc, sigma, *fine))
            return _full_render(job, engine, doc, params, sigma, zoom, t0)

        self._main = self.runner.submit(
            work, "render",
            progress=lambda f, m: self._if_gen(gen, emit, self.progress, f, m),
            yielded=lambda v: self._if_gen(gen, self._on_yield, v),
            succeeded=lambda r: self._if_gen(gen, self._on_result, r),
            failed=lambda m: self._if_gen(gen, self._on_failed, m),
            cancelled=lambda: None,
        )
        emit(self.runningChanged, True)

    def _reblend(self, doc: Document, params: RenderParams, gen: int) -> bool:
        """Only the VAE blend changed: re-mix the stored result and spread (fast) instead
        of denoising and sampling again. Returns False if a full render is needed."""
        r = doc.rendered
        sigma = params.sigma if params.sigma is not None else doc.sigma_estimate
        if r is None or r.raw is None or r.std is None or r.key[:3] != params.key(sigma)[:3]:
            return False
        zoom = self._view[1]

        def work(job: Job) -> Rendered:
            shown = blend_uncertain(r.raw, doc.pixels, r.std, params.blend)
            pic, residual, unc = render_pictures(doc.pixels, shown, doc.alpha, r.std, zoom,
                                                 sigma)
            return replace(r, key=params.key(sigma), result=shown, picture=pic,
                           residual=residual, uncertainty=unc)

        self._main = self.runner.submit(
            work, "blend",
            succeeded=lambda res: self._if_gen(gen, self._on_result, res),
            failed=lambda m: self._if_gen(gen, self._on_failed, m),
        )
        emit(self.runningChanged, True)
        return True

    def _preview_view(self) -> None:
        """Preview-only job for a new view while the full render is still on its way."""
        self._preview_area(*self._view)

    def preview_spot(self, x: float, y: float, size: int = 200) -> None:
        """Denoise a small area at full resolution around (x, y), e.g. under the loupe."""
        if self.doc is None or self.is_current():
            return
        h, w = self.doc.pixels.shape[:2]
        half = size // 2
        x0, y0 = max(0, int(x) - half), max(0, int(y) - half)
        self._spot = ((y0, x0, min(h, y0 + size), min(w, x0 + size)), 1.0)
        self._spot_timer.start()

    def _preview_spot_now(self) -> None:
        if self._spot is not None:
            self._preview_area(*self._spot)

    def _preview_area(self, box: tuple[int, int, int, int], zoom: float) -> None:
        doc, params = self.doc, self.params
        if doc is None or params is None or self.is_current():
            return
        want_box, want_factor = preview.plan(box, zoom)
        if want_box[2] <= want_box[0] or want_box[3] <= want_box[1]:
            return
        if any(preview.covers(b, want_box) and f <= want_factor for b, f in self._done):
            return
        if _alive(self._preview):
            self._preview.cancel()
        gen = self._gen

        def work(job: Job) -> Any:
            engine = backend.get_engine(params.model, params.device)
            sigma = yield from _resolve_sigma(doc, params)
            job.token.raise_if_cancelled()
            return _make_preview(engine, doc, sigma, want_box, want_factor)

        self._preview = self.runner.submit(
            work, "preview",
            yielded=lambda v: self._if_gen(gen, self._on_yield, v),
            succeeded=lambda p: self._if_gen(gen, self._on_yield, ("preview", p)),
            failed=lambda m: self._if_gen(gen, self._on_failed, m),
        )

    def start_compare(self) -> None:
        """Denoise with the second model (two models side by side)."""
        doc, params = self.doc, self.params
        if doc is None or params is None or params.compare_model is None:
            return
        if _alive(self._compare):
            self._compare.cancel()
        gen = self._gen
        cparams = RenderParams(model=params.compare_model, sigma=params.sigma,
                               device=params.device, tile=params.tile)
        zoom = self._view[1]

        def work(job: Job) -> Any:
            engine = backend.get_engine(cparams.model, cparams.device)
            sigma = yield from _resolve_sigma(doc, cparams)
            return _full_render(job, engine, doc, cparams, sigma, zoom, time.perf_counter())

        self._compare = self.runner.submit(
            work, "compare",
            progress=lambda f, m: self._if_gen(gen, emit, self.progress, f, f"Model B: {m}"),
            yielded=lambda v: self._if_gen(gen, self._on_yield, v),
            succeeded=lambda r: self._if_gen(gen, self._on_compare, r),
            failed=lambda m: self._if_gen(gen, self._on_failed, m),
        )

    # ----- results (GUI thread) --------------------------------------------------
    def _if_gen(self, gen: int, fn: Any, *args: Any) -> None:
        if gen == self._gen:
            fn(*args)

    def _on_yield(self, value: tuple) -> None:
        kind = value[0]
        if kind == "engine":
            emit(self.engineReady, value[1], value[2])
        elif kind == "sigma":
            if self.doc is not None and self.params is not None and self.params.sigma is None:
                self.doc.sigma_estimate = value[1]
            emit(self.sigmaEstimated, value[1])
        elif kind == "preview" and value[1] is not None:
            patch: PreviewPatch = value[1]
            if self.is_current():
                return
            if "preview" not in self.last_timings:
                self.last_timings["preview"] = time.perf_counter()
            self._done.append((patch.box, patch.factor))
            patch.generation = self._gen
            emit(self.previewReady, patch)

    def _on_result(self, rendered: Rendered) -> None:
        if self.doc is not None:
            self.doc.rendered = rendered
        self.last_timings["result"] = time.perf_counter()
        self._main = None
        emit(self.resultReady, rendered)
        if self.want_compare and self.params is not None and self.params.compare_model:
            self.start_compare()
        elif not self.is_running():
            emit(self.runningChanged, False)

    def _on_compare(self, rendered: Rendered) -> None:
        if self.doc is not None:
            self.doc.compare = rendered
        self._compare = None
        emit(self.compareReady, rendered)
        if not self.is_running():
            emit(self.runningChanged, False)

    def _on_failed(self, message: str) -> None:
        self.cancel()
        emit(self.failed, message)


def _alive(job: Job | None) -> bool:
    """False for None and for a finished job Qt has already deleted (deleteLater)."""
    return job is not None and shiboken6.isValid(job)


# ----- work functions (worker threads) -----------------------------------------------
def _resolve_sigma(doc: Document, params: RenderParams) -> Any:
    """The sigma to use: the user's, or the document's estimate (computed once)."""
    if getattr(params.model, "blind", False):
        return params.sigma
    if params.sigma is not None:
        return params.sigma
    sigma = doc.sigma_estimate
    if sigma is None:
        sigma = backend.estimate_sigma(doc.pixels)
    yield ("sigma", sigma)
    return sigma


def _make_preview(engine: Any, doc: Document, sigma: float | None,
                  pbox: tuple[int, int, int, int], factor: int) -> PreviewPatch | None:
    """Denoise ``pbox`` at 1/``factor`` resolution (worker thread)."""
    y0, x0, y1, x1 = pbox
    if y1 <= y0 or x1 <= x0:
        return None
    if factor == 1:
        out = backend.denoise_region(engine, doc.pixels, sigma, pbox)
        orig = doc.pixels[y0:y1, x0:x1]
    else:
        if doc.display_u8 is not None:  # Pillow's box reduce: ten times faster on 24 MP
            orig = reduce_uint8(doc.display_u8, pbox, factor).astype(np.float32) / 255.0
        else:
            orig = preview.block_mean(doc.pixels, pbox, factor)
        s = None if sigma is None else sigma / factor
        # one tile: the preview is small, and tile overlap would only cost time
        out = backend.denoise(engine, orig, s, tile=max(orig.shape[:2]) + 64)
    rect = QRectF(x0, y0, x1 - x0, y1 - y0)
    alpha = None
    if doc.alpha is not None and factor == 1:
        alpha = doc.alpha[y0:y1, x0:x1]
    return PreviewPatch(
        box=pbox, factor=factor,
        result=Patch(array_to_qimage(out, alpha), rect),
        residual=Patch(array_to_qimage(amplify_residual(orig, out, residual_gain(sigma))), rect),
    )


def _full_render(job: Job, engine: Any, doc: Document, params: RenderParams,
                 sigma: float | None, zoom: float, t0: float) -> Rendered:
    samples = params.samples if getattr(params.model, "stochastic", False) else 0
    share = 0.5 if samples else 1.0
    job.set_progress(0.0, "Denoising")
    result = backend.denoise(
        engine, doc.pixels, sigma, tile=params.tile,
        progress=lambda f: job.set_progress(f * share, "Denoising"), cancel=job.token)
    std = None
    if samples:
        _, std = backend.sample(
            engine, doc.pixels, sigma, samples, tile=params.tile,
            progress=lambda f: job.set_progress(share + f * (1 - share), "Measuring uncertainty"),
            cancel=job.token)
    result = np.asarray(result, dtype=np.float32)
    shown = blend_uncertain(result, doc.pixels, std, params.blend)
    job.set_progress(1.0, "Preparing display")
    pic, residual, unc = render_pictures(doc.pixels, shown, doc.alpha, std, zoom, sigma)
    return Rendered(
        key=params.key(sigma), model=params.model, sigma=sigma if sigma is not None else -1.0,
        result=shown, picture=pic, residual=residual, std=std, uncertainty=unc,
        device=str(getattr(engine, "device", "")), seconds=time.perf_counter() - t0,
        raw=result if std is not None else None,
    )
