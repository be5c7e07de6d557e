"""Settings remembered between runs, stored with QSettings.

The storage location is injectable (``AppSettings(path)``, ``--settings`` on the command
line, or the ``DENOISER_GUI_SETTINGS`` environment variable) so tests and portable
installs never touch the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "denoiser-studio"
APPLICATION = "denoiser-studio"
MAX_RECENT = 10

# key -> (default, type) for plain values
_DEFAULTS: dict[str, tuple[Any, type]] = {
    "model": ("", str),
    "compare_model": ("", str),
    "sigma": (25.0, float),
    "auto_sigma": (True, bool),
    "device": ("auto", str),
    "tile": (0, int),  # 0: Auto, each model's own tile
    "view_mode": ("split", str),
    "after_layer": ("result", str),
    "output_dir": ("", str),
    "last_open_dir": ("", str),
    "naming": ("{stem}_denoised", str),
    "out_format": ("same", str),
    "jpeg_quality": (95, int),
    "note_metadata": (True, bool),
    "keep_metadata": (True, bool),
    "uncertainty_blend": (0.0, float),
    "loupe": (False, bool),
}


def _to_bool(value: Any) -> bool:
    # INI files give strings back ("true"/"false"), native backends give bools
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class AppSettings:
    """Typed access to the GUI's QSettings.

    ``path`` selects an INI file; without one, ``DENOISER_GUI_SETTINGS`` or the
    platform's usual place is used.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        path = path or os.environ.get("DENOISER_GUI_SETTINGS") or None
        if path:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
            )

    @property
    def file_name(self) -> str:
        """Where the settings live, for the About box and bug reports."""
        return self._qs.fileName()

    def get(self, key: str) -> Any:
        """Value of a known key with its type restored, or the default."""
        default, kind = _DEFAULTS[key]
        value = self._qs.value(key, None)
        if value is None:
            return default
        try:
            if kind is bool:
                return _to_bool(value)
            return kind(value)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        if key not in _DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        self._qs.setValue(key, value)

    # window geometry and dock/toolbar state are opaque blobs
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry", None)
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state", None)
        return value if isinstance(value, QByteArray) else None

    def set_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    def recent_files(self) -> list[str]:
        value = self._qs.value("recent_files", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def add_recent_file(self, path: str | Path) -> list[str]:
        """Put ``path`` first in the recent list (no duplicates, at most MAX_RECENT)."""
        p = str(Path(path))
        items = [p] + [r for r in self.recent_files() if r != p]
        items = items[:MAX_RECENT]
        self._qs.setValue("recent_files", items)
        return items

    def clear_recent_files(self) -> None:
        self._qs.setValue("recent_files", [])

    def sync(self) -> None:
        """Write to disk now (QSettings otherwise writes lazily)."""
        self._qs.sync()
