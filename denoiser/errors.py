"""Shared exception types for the denoiser core, CLI and GUI.

Every :class:`DenoiserError` carries a message that is one clear sentence meant for
the user, so front ends can show ``str(error)`` directly without a traceback.
"""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "DenoiserError",
    "ImageReadError",
    "ImageWriteError",
    "ModelError",
]


class DenoiserError(Exception):
    """Base: str(e) is one clear sentence for the user."""


class ImageReadError(DenoiserError):
    """An image file could not be opened or decoded."""


class ImageWriteError(DenoiserError):
    """An image file could not be written."""


class ModelError(DenoiserError):
    """A denoising model could not be loaded or run."""


class Cancelled(Exception):
    """Work was cancelled by the user (not an error)."""
