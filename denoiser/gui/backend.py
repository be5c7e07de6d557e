"""The GUI's only doorway into the Qt-free core (engine, image I/O, models, noise).

Keeping every core call in one small module means a change in the core's signatures
is fixed here once, and tests can monkeypatch one place. Functions here may be slow:
call them from worker threads only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from denoiser.cancel import CancelToken
from denoiser.errors import DenoiserError
from denoiser.gui import preview

Progress = Callable[[float], None]

# largest centred crop used for the Auto noise estimate: on a 24 MP photo the middle
# megapixel gives the same figure (the estimator samples patches anyway) in 0.3 s, not 4 s
# (the camera-noise estimate fits a covariance model and costs several times that)
SIGMA_CROP = 1024


def import_reader() -> None:
    """Import the image reader (Pillow, its plugins) ahead of the first open: in a worker
    at start-up it takes a tenth of a second the first drop would otherwise wait for."""
    import denoiser.imageio  # noqa: F401


def read_image(path: str | Path) -> Any:
    from denoiser.imageio import read_image as _read

    return _read(path)


def read_channels(path: str | Path) -> int:
    """1 or 3, mostly from the file's header (see :func:`denoiser.imageio.read_channels`)."""
    from denoiser.imageio import read_channels as _channels

    return _channels(path)


def read_preview(path: str | Path, fit: tuple[int, int]) -> Any:
    """A reduced decode of a JPEG for a view of ``fit`` (w, h) device px, or None."""
    from denoiser.imageio import read_preview as _preview

    return _preview(path, fit)


def write_image(path: str | Path, pixels: np.ndarray, **kwargs: Any) -> Path:
    from denoiser.imageio import write_image as _write

    return _write(path, pixels, **kwargs)


def supported_suffixes() -> tuple[str, ...]:
    from denoiser.imageio import SUPPORTED_SUFFIXES

    return tuple(s.lower() for s in SUPPORTED_SUFFIXES)


def is_supported(path: str | Path) -> bool:
    from denoiser.imageio import is_supported as _is

    return bool(_is(path))


def model_noise_type(model: Any) -> str:
    """The noise ``model`` was trained on (its metadata): it decides how Auto estimates,
    because a camera model's sigma is the per-pixel std of correlated noise."""
    return str(getattr(model, "noise_type", None) or "gaussian")


def estimate_sigma(pixels: np.ndarray, crop: int = SIGMA_CROP, *, noise_type: str) -> float:
    """Noise level (0-255 scale) from the middle ``crop`` x ``crop`` of the image, as a
    model trained on ``noise_type`` noise means it (see :func:`model_noise_type`)."""
    from denoiser.strength import auto_sigma as _est

    y0, x0, y1, x1 = preview.central_crop(pixels.shape, crop)
    try:
        return float(_est(np.ascontiguousarray(pixels[y0:y1, x0:x1]), noise_type=noise_type))
    except ValueError as e:  # too small, or NaNs: say so instead of "unexpected error"
        raise DenoiserError("The noise level of this picture cannot be estimated "
                            f"({e}); turn Auto off and set the strength by hand.") from e


def discover_models() -> list[Any]:
    from denoiser.models import discover_models as _d

    return list(_d())


def find_model(name_or_path: str | Path) -> Any:
    from denoiser.models import find_model as _f

    return _f(name_or_path)


def default_model(channels: int) -> Any:
    from denoiser.models import default_model as _d

    return _d(channels)


def choose_default(models: list[Any], channels: int) -> Any:
    """The model the CLI would take for a ``channels``-channel image, among ``models``."""
    from denoiser.models import choose_default as _c

    return _c(models, channels)


def available_devices() -> list[str]:
    """Devices this machine can run on, e.g. ["cpu"] or ["cpu", "cuda"]."""
    from denoiser.engine import available_devices as _a

    return [str(d).lower() for d in _a()]


def get_engine(model: Any, device: str = "auto", threads: int | None = None) -> Any:
    from denoiser.engine import get_engine as _g

    return _g(model, device=device, threads=threads)


def _progress_adapter(progress: Progress | None) -> Callable[..., None] | None:
    """The engine may report (done, total) or a fraction; the GUI wants a fraction."""
    if progress is None:
        return None

    def cb(*args: Any) -> None:
        if len(args) >= 2 and args[1]:
            progress(float(args[0]) / float(args[1]))
        elif args:
            progress(float(args[0]))

    return cb


def denoise(engine: Any, pixels: np.ndarray, sigma: float | None, *,
            tile: int | None = None, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> np.ndarray:
    return engine.denoise(pixels, sigma, tile=tile, progress=_progress_adapter(progress),
                          cancel=cancel)


def denoise_region(engine: Any, pixels: np.ndarray, sigma: float | None,
                   box: tuple[int, int, int, int]) -> np.ndarray:
    """Denoise ``pixels[box]`` using surrounding context; returns the box-sized crop."""
    out = engine.denoise_region(pixels, sigma, box=box)
    y0, x0, y1, x1 = box
    if out.shape[:2] != (y1 - y0, x1 - x0):  # an engine that returns the whole frame
        out = out[y0:y1, x0:x1]
    return out


def sample(engine: Any, pixels: np.ndarray, sigma: float | None, k: int, *,
           tile: int | None = None, progress: Progress | None = None,
           cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) over ``k`` VAE samples, for the uncertainty view."""
    kwargs: dict[str, Any] = {"seed": 0}
    params = inspect.signature(engine.sample).parameters
    if "tile" in params:
        kwargs["tile"] = tile
    if "progress" in params:
        kwargs["progress"] = _progress_adapter(progress)
    if "cancel" in params:
        kwargs["cancel"] = cancel
    return engine.sample(pixels, sigma, k, **kwargs)
