"""Work-arounds for Qt binding bugs, detected at run time rather than by version number.

PySide6 6.12.0 on Python < 3.12: ``SignalInstance.emit()`` (and ``disconnect()``) return
``True`` without taking a reference to it, so every emit of a Python-defined signal
drops the reference count of ``True`` by one. After a few hundred emits (moving the
mouse over the image is enough) the interpreter aborts with "Fatal Python error:
bool_dealloc: deallocating True or False". On Python 3.12+ ``True`` is immortal and
nothing happens.

:func:`emit` emits and gives back the lost reference when (and only when) a probe at
import time shows the bug. Use it for every custom signal in this package.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal(int)


def _true_refs_lost_per_call() -> int:
    """How many references to True one emit() loses (0 on a healthy binding)."""
    probe = _Probe()
    instance = probe.ping
    before = sys.getrefcount(True)
    for _ in range(4):
        instance.emit(0)
    lost = (before - sys.getrefcount(True)) // 4
    _give_back(lost * 4)
    return max(0, lost)


def _give_back(n: int) -> None:
    for _ in range(max(0, n)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


LOST_PER_EMIT = _true_refs_lost_per_call()


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, repairing the reference PySide 6.12 loses (see module doc)."""
    signal.emit(*args)
    if LOST_PER_EMIT:
        _give_back(LOST_PER_EMIT)


def repair_true_refcount(floor: int) -> None:
    """Top the reference count of True back up to ``floor`` (for test teardown, where
    pytest-qt's ``disconnect()`` calls lose references we cannot wrap)."""
    if LOST_PER_EMIT:
        _give_back(floor - sys.getrefcount(True))
