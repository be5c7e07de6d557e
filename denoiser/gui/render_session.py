"""Schedules denoising of the open image: the view first, then the whole image.

Why a separate object: the window should only compose widgets, and the rules for
"what to compute next" (debounce the strength slider, drop stale jobs, preview what is
on screen, then the full image, then a second model) are easier to test without one.

A large JPEG is previewed before its full decode is done: :meth:`set_draft` denoises
the view from a reduced decode, and the full document that follows keeps that preview
until finer ones replace it.

Every job carries a generation number; results from an older generation are ignored,
so a fast slider never shows a stale picture, and cancelled jobs simply fade out.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from denoiser.gui import backend, preview
from denoiser.gui.document import Document, Draft, Rendered, blend_uncertain, render_pictures
from denoiser.gui.qtcompat import emit
from denoiser.gui.render_work import (
    PreviewPatch,
    RenderParams,
    draft_preview,
    engine_info,
    full_render,
    known_sigma,
    make_preview,
    resolve_sigma,
)
from denoiser.gui.workers import Job, JobRunner

__all__ = ["PreviewPatch", "RenderParams", "RenderSession"]

DEBOUNCE_MS = 180
VIEW_DEBOUNCE_MS = 250


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
        self._layer = 0  # previews with one number (same image, settings) are layered
        self._main: Job | None = None
        self._preview: Job | None = None
        self._compare: Job | None = None
        self._done: list[tuple[tuple[int, int, int, int], int]] = []  # previewed areas
        self._planned: list[tuple[tuple[int, int, int, int], int]] = []  # by the render job
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
        self._draft: Draft | None = None
        self.last_timings: dict[str, Any] = {}

    # ----- inputs ----------------------------------------------------------------
    def set_document(self, doc: Document | None,
                     view: tuple[tuple[int, int, int, int], float] | None = None,
                     start: bool = True) -> None:
        """A new image: start at once (no debounce), view first; ``start`` False waits
        for a settings change (the user cancelled while the file was being read).

        ``view`` (box, zoom) is the area that will be in view, for an image not shown yet.
        The full decode of the draft being previewed keeps the draft's previews.
        """
        from_draft = (self._draft is not None and doc is not None
                      and doc.path == self._draft.path)
        self._draft = None
        self.doc = doc
        if view is not None:
            self._view = view
        if not from_draft:
            self._done = []
        if doc is None or not start:
            self.cancel()
            return
        self.start_now(keep_previews=from_draft)

    def set_draft(self, draft: Draft, view: tuple[tuple[int, int, int, int], float]) -> bool:
        """A photo still being read: denoise the area in view from its reduced decode.

        Returns False when there is nothing to denoise with (no model yet).
        """
        self.doc = None
        self.cancel()
        self._draft, self._view, self._done = draft, view, []
        self._layer += 1
        params = self.params
        if params is None:
            return False
        gen, (box, zoom) = self._gen, view
        t0 = time.perf_counter()
        self.last_timings = stages = {"start": t0}

        def work(job: Job) -> Any:
            engine = backend.get_engine(params.model, params.device)
            stages["engine_s"] = time.perf_counter() - t0
            yield ("engine", *engine_info(engine, params))
            return draft_preview(engine, draft, params, box, zoom, stages)

        self._preview = self.runner.submit(
            work, "draft preview",
            yielded=lambda v: self._if_gen(gen, self._on_yield, v),
            succeeded=lambda p: self._if_gen(gen, self._on_yield, ("preview", p)),
            failed=lambda m: self._if_gen(gen, self._on_failed, m),
        )
        emit(self.runningChanged, True)
        return True

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
            return engine_info(backend.get_engine(params.model, params.device), params)

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
        return doc.rendered.key == params.key(known_sigma(doc, params))

    def estimate(self) -> float | None:
        """The document's Auto estimate for the current model's noise type, if made yet."""
        doc, params = self.doc, self.params
        if doc is None or params is None:
            return None
        return doc.sigma_estimates.get(backend.model_noise_type(params.model))

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
        self._planned = []
        emit(self.runningChanged, False)

    # ----- jobs ------------------------------------------------------------------
    def start_now(self, keep_previews: bool = False) -> None:
        """Render the document with the current settings: the view first, then the whole.

        ``keep_previews``: the previews shown so far still hold (the same settings, e.g.
        a draft's), so a quick pass they already cover is skipped.
        """
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
        if not keep_previews:
            self._done = []
            self._layer += 1
        self._main_params = params
        t0 = time.perf_counter()
        stages: dict[str, Any] = {"start": t0}
        if not keep_previews:
            self.last_timings = stages
        quick = preview.plan(box, zoom, preview.QUICK_BUDGET_PX)
        fine = preview.plan(box, zoom, preview.PREVIEW_BUDGET_PX)
        # a preview at most twice as coarse as the quick pass is as good as one
        skip_quick = any(preview.covers(b, quick[0]) and f <= 2 * quick[1]
                         for b, f in self._done)
        self._planned = [fine] if skip_quick else [quick, fine]

        def work(job: Job) -> Any:
            engine = backend.get_engine(params.model, params.device)
            stages["engine_s"] = time.perf_counter() - t0
            yield ("engine", *engine_info(engine, params))
            sigma = yield from resolve_sigma(doc, params)
            stages["sigma_s"] = time.perf_counter() - t0
            if not skip_quick:
                stages["plan"] = quick
                yield ("preview", make_preview(engine, doc, sigma, *quick))
                stages["denoise_s"] = time.perf_counter() - t0
            if fine != quick:
                yield ("preview", make_preview(engine, doc, sigma, *fine))
            return full_render(job, engine, doc, params, sigma, zoom, t0)

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
        sigma = known_sigma(doc, params)
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
        # shown already, or on its way from the render job (on a busy machine its quick
        # pass can take longer than the view debounce: no second job for the same area)
        if any(preview.covers(b, want_box) and f <= want_factor
               for b, f in self._done + self._planned):
            return
        if _alive(self._preview):
            self._preview.cancel()
        gen = self._gen

        def work(job: Job) -> Any:
            engine = backend.get_engine(params.model, params.device)
            sigma = yield from resolve_sigma(doc, params)
            job.token.raise_if_cancelled()
            return make_preview(engine, doc, sigma, want_box, want_factor)

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
            sigma = yield from resolve_sigma(doc, cparams)
            return full_render(job, engine, doc, cparams, sigma, zoom, time.perf_counter())

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
            # kept per noise type, shown only for the current model's: the second model's
            # estimate, or one from before a model switch, may be for another type
            _, sigma, noise = value
            if self.doc is not None:
                self.doc.sigma_estimates[noise] = sigma
            if (self.params is not None
                    and backend.model_noise_type(self.params.model) == noise):
                emit(self.sigmaEstimated, sigma)
        elif kind == "preview" and value[1] is not None:
            patch: PreviewPatch = value[1]
            if self.is_current():
                return
            if "preview" not in self.last_timings:
                self.last_timings["preview"] = time.perf_counter()
            self._done.append((patch.box, patch.factor))
            patch.generation = self._layer
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
