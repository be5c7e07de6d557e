"""Reading an image file in a worker, in the order its parts can be used.

Why the steps: a 24-megapixel JPEG takes about a second to decode and a few tenths more
to prepare for display, and the user should see something long before that. So one load
job reports, as each is ready:

1. ``draftRead``: a reduced decode (JPEG only, and only when the photo is much larger
   than the view), to show and to preview the denoising from;
2. ``pixelsRead``: the full pixels, so denoising can start while...
3. ``loaded``: ...the display picture is built.

After a draft the full decode waits (up to ``PREVIEW_WAIT_S``) until the draft's first
preview is on screen: on two cores the decode would otherwise take one of the two the
preview's denoising runs on, and the first result is what the user is waiting for.

The newest request wins: an older job's later steps are cancelled and never reported.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from denoiser.gui.document import add_display, read_document, read_draft
from denoiser.gui.qtcompat import emit
from denoiser.gui.workers import Job, JobRunner

PREVIEW_WAIT_S = 2.0


class Loader(QObject):
    """Runs one load job at a time and reports its steps in GUI-thread signals."""

    draftRead = Signal(object)  # Draft
    pixelsRead = Signal(object)  # Document without its display picture yet
    loaded = Signal(object)  # the same Document, ready to show
    failed = Signal(object, str)  # path, one sentence for the user

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.drafts = True  # False: always wait for the full decode (tests compare both)
        self.preview_wait = PREVIEW_WAIT_S
        self._job: Job | None = None
        self._previewed = threading.Event()

    def load(self, path: Path, view: tuple[int, int]) -> None:
        """Read ``path`` for a view of ``view`` (w, h) device pixels."""
        self.cancel()
        drafts, wait, previewed = self.drafts, self.preview_wait, threading.Event()
        self._previewed = previewed

        def work(job: Job) -> Any:
            draft = read_draft(path, view) if drafts else None
            if draft is not None:
                yield ("draft", draft)
                previewed.wait(wait)
                job.token.raise_if_cancelled()
            # denoising starts as soon as the pixels are read; the display picture is
            # built meanwhile (two cores, two jobs), which saves a few tenths of a second
            doc = read_document(path)
            yield ("read", doc)
            return add_display(doc, view)

        self._job = job = self.runner.submit(
            work, "load",
            yielded=lambda v: self._report(job, v),
            succeeded=lambda doc: self._finish(job, self.loaded, doc),
            failed=lambda m: self._finish(job, self.failed, path, m),
        )

    def is_loading(self) -> bool:
        return self._job is not None and shiboken6.isValid(self._job)

    def draft_previewed(self) -> None:
        """The draft's first preview is on screen (or will not be): read the rest now."""
        self._previewed.set()

    def cancel(self) -> None:
        """Stop the current job at its next step (a decode under way finishes first)."""
        if self.is_loading():
            self._job.cancel()
        self._job = None
        self._previewed.set()

    def _report(self, job: Job, value: tuple[str, Any]) -> None:
        if job is self._job:
            emit(self.draftRead if value[0] == "draft" else self.pixelsRead, value[1])

    def _finish(self, job: Job, signal: Any, *args: Any) -> None:
        if job is self._job:
            self._job = None
            emit(signal, *args)
