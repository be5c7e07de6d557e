"""Batch work shared by the CLI and the GUI's queue: plan outputs, denoise one file.

No Qt, no printing: callers decide how to report. Why a plan first: every output path
is known (and checked against existing files) before any slow work starts, so a batch
never stops half-way to ask, and never overwrites anything it was not told to.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoiser.cancel import CancelToken
from denoiser.engine import Engine, Progress
from denoiser.errors import DenoiserError, ImageWriteError

DEFAULT_SUFFIX = "_denoised"
UNCERTAINTY_SUFFIX = "_uncertainty"

EngineSource = Engine | Callable[[int], Engine]


class OutputExists(DenoiserError):
    """The output file is already there and overwriting was not asked for."""


class NoiseLevelError(DenoiserError):
    """The noise level could not be estimated (e.g. the image is tiny)."""


@dataclass(frozen=True)
class FileResult:
    """What :func:`denoise_file` did, for the caller's report."""

    src: Path
    dst: Path
    model: str
    sigma: float | None
    seconds: float
    uncertainty: Path | None = None


# ----------------------------------------------------------------------------- planning


def _is_supported(path: Path) -> bool:
    from denoiser.imageio import is_supported

    return is_supported(path)


def _walk(folder: Path, skip: Callable[[Path], bool]) -> list[Path]:
    """Supported images under ``folder`` (subfolders too; hidden ones left out), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            f = Path(dirpath) / name
            if not name.startswith(".") and _is_supported(f) and not skip(f):
                found.append(f)
    return sorted(found)


def _is_own_output(f: Path, suffix: str, out_dir: Path | None) -> bool:
    """True for files a previous run wrote, so re-running on a folder does not chain."""
    if out_dir is not None and out_dir.resolve() in f.resolve().parents:
        return True
    stem = f.stem
    return stem.endswith(UNCERTAINTY_SUFFIX) or bool(suffix) and stem.endswith(suffix)


def output_path(src: Path, suffix: str, fmt: str | None, folder: Path) -> Path:
    """``folder / <stem><suffix><ext>``; ``fmt`` (e.g. "png") replaces the input's extension."""
    ext = f".{fmt.lstrip('.').lower()}" if fmt else src.suffix
    return folder / f"{src.stem}{suffix}{ext}"


def plan_outputs(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] | None = None,
    suffix: str = DEFAULT_SUFFIX,
    fmt: str | None = None,
) -> list[tuple[Path, Path]]:
    """(source, destination) pairs for files and folders (walked recursively).

    Without ``out_dir`` each result goes beside its input; with it, files given directly
    land in ``out_dir`` and a folder's subfolder structure is kept below ``out_dir``.
    A path that does not exist is planned as a file so that its error is reported later.
    """
    out = Path(out_dir) if out_dir is not None else None
    plan: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files = _walk(p, lambda f: _is_own_output(f, suffix, out))
            pairs = [(f, output_path(f, suffix, fmt, (out / f.parent.relative_to(p))
                                     if out is not None else f.parent)) for f in files]
        else:
            pairs = [(p, output_path(p, suffix, fmt, out if out is not None else p.parent))]
        for src, dst in pairs:
            key = src.resolve()
            if key not in seen:
                seen.add(key)
                plan.append((src, dst))
    return plan


def collisions(plan: list[tuple[Path, Path]]) -> dict[Path, Path]:
    """Sources whose destination an earlier source already takes: {later src: earlier src}.

    Why: ``a.png`` and ``a.jpg`` both become ``a_denoised.png`` with ``fmt="png"``.
    """
    first: dict[Path, Path] = {}
    clash: dict[Path, Path] = {}
    for src, dst in plan:
        key = dst.resolve()
        if key in first:
            clash[src] = first[key]
        else:
            first[key] = src
    return clash


def uncertainty_path(src: Path, dst: Path) -> Path:
    """``<input stem>_uncertainty.png`` beside the denoised output."""
    return dst.parent / f"{src.stem}{UNCERTAINTY_SUFFIX}.png"


# ----------------------------------------------------------------------------- one file


def check_free(path: Path, overwrite: bool) -> None:
    """Raise OutputExists if ``path`` exists and may not be replaced."""
    if not overwrite and path.exists():
        raise OutputExists(f"{path} already exists (use --overwrite to replace it).")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ImageWriteError(f"Cannot create the output folder {folder} "
                              f"({e.strerror or e}).") from e


def _pick_engine(engine: EngineSource, channels: int) -> Engine:
    return engine if isinstance(engine, Engine) else engine(channels)


def _noise_level(engine: Engine, pixels: np.ndarray, sigma: float | str | None) -> float | None:
    """The 0-255 noise level to use: the given one, or estimated for "auto"/None."""
    if engine.model.blind:
        return None
    if sigma is None or sigma == "auto":
        from denoiser.strength import auto_sigma

        try:
            return float(auto_sigma(pixels, noise_type=engine.model.noise_type))
        except ValueError as e:  # too small, or NaNs: the user can still give a level
            raise NoiseLevelError(f"Cannot estimate the noise level ({str(e).rstrip('.')}); "
                                  "give one with --sigma.") from e
    return float(sigma)


def viewable_std(std: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale an uncertainty (std) map to 0..1 for viewing; return it and the std shown as white.

    Why a percentile: a few extreme pixels would otherwise make the whole map black.
    """
    grey = std.mean(axis=2) if std.ndim == 3 else std
    white = max(float(np.percentile(grey, 99.5)), 1e-6)
    return np.clip(grey / white, 0.0, 1.0).astype(np.float32)[..., None], white


def denoise_file(
    engine: EngineSource,
    src: Path,
    dst: Path,
    sigma: float | str | None = "auto",
    *,
    tile: int | None = None,  # None: the model's own (Engine.default_tile)
    samples: int = 0,
    uncertainty: bool = False,
    overwrite: bool = False,
    seed: int | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> FileResult:
    """Read ``src``, denoise it, write ``dst`` atomically (like the input: format, EXIF, ICC).

    ``engine`` is an Engine or a function from the image's channel count to one.
    ``samples`` > 0 outputs the mean of that many VAE samples; ``uncertainty`` also writes
    their spread as ``<stem>_uncertainty.png``. Raises OutputExists before any work if an
    output is in the way, DenoiserError subclasses for bad files, Cancelled if cancelled.
    """
    from denoiser.imageio import read_image, write_image

    unc = uncertainty_path(src, dst) if uncertainty else None
    for path in (dst, unc):
        if path is not None:
            check_free(path, overwrite)
    start = time.perf_counter()
    loaded = read_image(src)
    eng = _pick_engine(engine, loaded.pixels.shape[2])
    level = _noise_level(eng, loaded.pixels, sigma)
    std = None
    if samples > 0:
        out, std = eng.sample(loaded.pixels, level, samples, seed=seed, tile=tile,
                              progress=progress, cancel=cancel)
    else:
        out = eng.denoise(loaded.pixels, level, tile=tile, progress=progress, cancel=cancel)
    np.clip(out, 0.0, 1.0, out=out)
    # the input's pixels are not needed to save "like" it, and saving makes temporary
    # copies of the output: let the input go first (a 24 MP photo: 275 MB less at peak)
    loaded.pixels = np.empty((0, 0, out.shape[2]), np.float32)
    _make_folder(dst.parent)
    write_image(dst, out, like=loaded, alpha=loaded.alpha, overwrite=overwrite)
    if unc is not None and std is not None:
        _write_uncertainty(write_image, unc, std, samples, overwrite)
    return FileResult(src, dst, eng.model.name, level, time.perf_counter() - start, unc)


def _write_uncertainty(write_image, path: Path, std: np.ndarray, k: int, overwrite: bool) -> None:
    view, white = viewable_std(std)
    note = (f"Per-pixel standard deviation of {k} samples; white is {white * 255:.2f} "
            "or more on the 0-255 scale.")
    write_image(path, view, bit_depth=8, overwrite=overwrite, text={"Description": note})
