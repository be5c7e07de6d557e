"""Work-arounds for Qt binding bugs, detected at run time rather than by version number.

PySide6 6.12.0 on Python < 3.12 loses references to the ``None``, ``True`` and ``False``
singletons: methods returning nothing (``setObjectName``, ``update``, ``setText``,
``processEvents``...) hand back ``None`` without taking a reference, and
``SignalInstance.emit()``/``disconnect()`` do the same with ``True``. Every such call
lowers the singleton's reference count by one; after a few thousand calls (a minute of
moving the mouse over the image) the interpreter aborts with "Fatal Python error:
none_dealloc: deallocating None". PySide6 6.11.3 on the same Python is fine, and on
Python 3.12+ these singletons are immortal, so nothing happens there.

:func:`install` checks for the loss with a probe and, only if it is there, gives each
singleton a large reserve of references (they are never freed, so extra references are
harmless) and tops the reserve up from a timer. :func:`emit` additionally repairs each
emit exactly. The real fix is a PySide6 release without the bug; see the report/README.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)

RESERVE = 1 << 30  # references added per top-up: ~10^9 lossy calls before the next one
TOP_UP_MS = 2000
_SINGLETONS = (None, True, False)


class _Probe(QObject):
    ping = Signal(int)


def _probe_losses() -> tuple[int, int]:
    """(None refs lost per void call, True refs lost per emit); (0, 0) on a healthy binding."""
    probe = _Probe()
    n = 8
    before = sys.getrefcount(None)
    for _ in range(n):
        probe.setObjectName("probe")
    lost_none = (before - sys.getrefcount(None)) // n
    instance = probe.ping
    before = sys.getrefcount(True)
    for _ in range(n):
        instance.emit(0)
    lost_true = (before - sys.getrefcount(True)) // n
    _give_back(None, max(0, lost_none) * n)
    _give_back(True, max(0, lost_true) * n)
    return max(0, lost_none), max(0, lost_true)


def _give_back(obj: Any, n: int) -> None:
    for _ in range(max(0, n)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


LOST_PER_VOID_CALL, LOST_PER_EMIT = _probe_losses()
_timer: QTimer | None = None


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, repairing the reference PySide 6.12 loses (see module doc)."""
    signal.emit(*args)
    if LOST_PER_EMIT:
        _give_back(True, LOST_PER_EMIT)


def needs_reserve() -> bool:
    return bool(LOST_PER_VOID_CALL or LOST_PER_EMIT) and sys.version_info < (3, 12)


def _refcount_cell(obj: Any) -> ctypes.c_ssize_t | None:
    """The object's ob_refcnt field, if the layout is the usual one (checked, not assumed)."""
    cell = ctypes.c_ssize_t.from_address(id(obj))
    return cell if cell.value == sys.getrefcount(obj) - 1 else None


def top_up() -> None:
    """Refill each singleton's reserve when it has fallen below half."""
    for obj in _SINGLETONS:
        if sys.getrefcount(obj) < RESERVE // 2:
            cell = _refcount_cell(obj)
            if cell is None:
                _give_back(obj, 100_000)  # unusual build: slower, still safe
            else:
                cell.value += RESERVE


def install(parent: QObject | None = None) -> bool:
    """Protect this process from the binding's reference leaks; True if it was needed.

    Call once the QApplication exists (the timer needs an event loop); calling again is
    harmless.
    """
    global _timer
    if not needs_reserve():
        return False
    top_up()
    if _timer is None:
        log.info("PySide6 %s leaks references to None/True on Python %d.%d; "
                    "compensating (upgrade or downgrade PySide6 to avoid this)",
                    _pyside_version(), *sys.version_info[:2])
        _timer = QTimer(parent)
        _timer.setInterval(TOP_UP_MS)
        _timer.timeout.connect(top_up)
        _timer.start()
    return True


def _pyside_version() -> str:
    import PySide6

    return str(getattr(PySide6, "__version__", "?"))
