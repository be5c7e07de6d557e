"""ICC profiles: kept only where they describe the pixels (a CMYK profile never does here)."""

from __future__ import annotations


def _icc_space(icc: bytes | None) -> str | None:
    """Colour space of an ICC profile ("RGB", "GRAY", "CMYK", ...) from its header."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("latin-1").strip() or None


def _matching_icc(icc: bytes | None, colour: bool) -> bytes | None:
    """The profile if it describes pixels like these (RGB for colour, GRAY for grey), else None."""
    return icc if _icc_space(icc) == ("RGB" if colour else "GRAY") else None
