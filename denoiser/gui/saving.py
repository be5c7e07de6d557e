"""Writing results: shared by Save, Save As and the batch queue.

The core's ``write_image`` is atomic (temporary file, then rename) and refuses to
overwrite unless told; this module only decides the arguments: keep EXIF/ICC and bit
depth from the original (``like``), keep transparency, and optionally note the model
and settings in the file's text metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import denoiser
from denoiser.gui import backend

FORMAT_BIT_DEPTH = {".jpg": 8, ".jpeg": 8}


def settings_note(model: Any, sigma: float | None, device: str = "",
                  extra: dict[str, str] | None = None) -> dict[str, str]:
    """Text chunks describing how the result was made (readable in any metadata viewer).

    Keys are plain words: PNG text keys may not contain colons.
    """
    sigma_text = "auto" if sigma is None or sigma < 0 else f"{sigma:.1f}"
    note = {
        "Software": f"denoiser-studio {denoiser.__version__}",
        "Denoiser model": str(getattr(model, "name", model)),
        "Denoiser model version": str(getattr(model, "version", "") or ""),
        "Denoiser model family": str(getattr(model, "family", "") or ""),
        "Denoiser strength (sigma)": sigma_text,
    }
    if device:
        note["Denoiser device"] = device
    note.update(extra or {})
    return note


def save_pixels(path: str | Path, pixels: np.ndarray, *, loaded: Any = None,
                alpha: np.ndarray | None = None, bit_depth: int | None = None,
                quality: int = 95, overwrite: bool = False, keep_metadata: bool = True,
                note: dict[str, str] | None = None) -> Path:
    """Write ``pixels`` to ``path`` like the original ``loaded`` image.

    16-bit sources stay 16-bit unless the format cannot hold it (JPEG); ``bit_depth``
    forces a depth (16-bit TIFF output).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if bit_depth is None:
        bit_depth = FORMAT_BIT_DEPTH.get(suffix)
    if bit_depth is None and loaded is not None:
        bit_depth = int(getattr(loaded, "bit_depth", 8) or 8)
    return backend.write_image(
        path, pixels,
        like=loaded if keep_metadata else None,
        bit_depth=bit_depth,
        quality=quality,
        overwrite=overwrite,
        alpha=alpha,
        text=note,
    )
