"""denoiser: a desktop image denoiser running exported ONNX models through onnxruntime."""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("denoiser-studio")
except PackageNotFoundError:  # running from a source tree or a bundle without metadata
    __version__ = "0.1.0"
