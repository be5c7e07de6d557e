"""Training, evaluation and export of the denoising models shipped with the app."""
