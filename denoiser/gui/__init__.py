"""Qt desktop front end for denoiser-studio.

The window only composes widgets; every piece of work (reading, denoising, saving,
batches) runs in worker threads from :mod:`denoiser.gui.workers` that report progress
and can be cancelled, so the interface never freezes. Nothing outside this package
imports Qt.
"""
