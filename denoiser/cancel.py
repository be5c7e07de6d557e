"""Cooperative cancellation for long calls that run in worker threads (GUI) or a CLI."""

from __future__ import annotations

import threading

from denoiser.errors import Cancelled


class CancelToken:
    """A flag one thread sets and another polls between units of work (tiles, files).

    Why cooperative: onnxruntime cannot be interrupted mid-run, so the engine checks the
    token between tiles; a cancel therefore takes effect within one tile's time.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check; safe from any thread."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled("cancelled")


def check(token: CancelToken | None) -> None:
    """Raise :class:`Cancelled` when ``token`` is set; ``None`` means not cancellable."""
    if token is not None:
        token.raise_if_cancelled()
