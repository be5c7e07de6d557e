"""Worker threads: every slow call runs here, reports progress and can be cancelled.

The pattern follows napari's: the work itself is plain Python from the Qt-free core; a
:class:`Job` runs it in a QThread and turns its progress callbacks, yielded values,
result and errors into Qt signals, which Qt delivers in the GUI thread. Cancelling is
cooperative: the core polls a :class:`~denoiser.cancel.CancelToken` between tiles or
files, so a cancel lands within one tile's time and never leaves half-written state.

A work function takes the job as its only argument::

    def work(job: Job):
        for i in range(n):
            job.token.raise_if_cancelled()
            job.set_progress((i + 1) / n, f"tile {i + 1} of {n}")
            yield ("partial", i)        # optional: shows up as job.yielded
        return result                   # shows up as job.succeeded
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from denoiser.cancel import CancelToken
from denoiser.errors import Cancelled, DenoiserError
from denoiser.gui.qtcompat import emit

log = logging.getLogger(__name__)


class Job(QThread):
    """One piece of background work.

    Signals (all delivered in the GUI thread):
        progress(fraction 0..1, message)
        yielded(value)       each value a generator work function yields
        succeeded(result)
        failed(message)      one sentence for the user
        cancelled()
    Exactly one of succeeded/failed/cancelled is emitted, then QThread.finished.
    """

    progress = Signal(float, str)
    yielded = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, work: Callable[[Job], Any], name: str = "job",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.work = work
        self.token = CancelToken()
        self.outcome: str | None = None  # "succeeded" | "failed" | "cancelled"
        self.result: Any = None
        self.error: str | None = None

    def cancel(self) -> None:
        """Ask the work to stop at its next check (safe to call repeatedly)."""
        self.token.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.token.cancelled

    def set_progress(self, fraction: float, message: str = "") -> None:
        """Report progress from the worker thread; cancellation is checked here too."""
        emit(self.progress, float(min(1.0, max(0.0, fraction))), message)
        self.token.raise_if_cancelled()

    def post(self, value: Any) -> None:
        """Send a value to the GUI thread as ``yielded`` (for use inside callbacks)."""
        emit(self.yielded, value)

    def run(self) -> None:  # runs in the worker thread
        try:
            out = self.work(self)
            if inspect.isgenerator(out):
                out = self._drain(out)
            self.token.raise_if_cancelled()
        except Cancelled:
            self.outcome = "cancelled"
            emit(self.cancelled)
        except DenoiserError as e:
            self.outcome, self.error = "failed", str(e)
            emit(self.failed, str(e))
        except MemoryError:
            self.outcome = "failed"
            self.error = "Not enough memory for this image; try a smaller tile size."
            emit(self.failed, self.error)
        except Exception as e:  # a bug must not take the app down: report it, log the trace
            log.error("%s failed:\n%s", self.objectName(), traceback.format_exc())
            self.outcome = "failed"
            self.error = f"Unexpected error: {e}"
            emit(self.failed, self.error)
        else:
            self.outcome, self.result = "succeeded", out
            emit(self.succeeded, out)

    def _drain(self, gen: Any) -> Any:
        while True:
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self.token.raise_if_cancelled()
            emit(self.yielded, value)


class JobRunner(QObject):
    """Starts jobs, keeps them alive until they finish, cancels them all on shutdown."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: set[Job] = set()

    def start(self, job: Job) -> Job:
        self._jobs.add(job)
        job.finished.connect(lambda j=job: self._forget(j))
        was_busy = len(self._jobs) > 1
        job.start()
        if not was_busy:
            emit(self.busyChanged, True)
        return job

    def submit(
        self,
        work: Callable[[Job], Any],
        name: str = "job",
        *,
        progress: Callable[[float, str], Any] | None = None,
        yielded: Callable[[Any], Any] | None = None,
        succeeded: Callable[[Any], Any] | None = None,
        failed: Callable[[str], Any] | None = None,
        cancelled: Callable[[], Any] | None = None,
    ) -> Job:
        """Wrap ``work`` in a :class:`Job`, connect the callbacks, then start it.

        Connecting before starting matters: a signal emitted by a fast job before its
        receiver is connected would be lost.
        """
        job = Job(work, name=name, parent=self)
        for signal, slot in (
            (job.progress, progress),
            (job.yielded, yielded),
            (job.succeeded, succeeded),
            (job.failed, failed),
            (job.cancelled, cancelled),
        ):
            if slot is not None:
                signal.connect(slot)
        return self.start(job)

    def _forget(self, job: Job) -> None:
        self._jobs.discard(job)
        job.deleteLater()
        if not self._jobs:
            emit(self.busyChanged, False)

    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def is_busy(self) -> bool:
        return bool(self._jobs)

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait for the threads; True if all stopped in time."""
        self.cancel_all()
        ok = True
        for job in list(self._jobs):
            ok = job.wait(timeout_ms) and ok
        return ok
