"""Batch planning (no Qt): which files, and where each result goes.

Folders are walked with their subfolders and the structure below the dropped folder
is kept in the output folder, so ``trip/day1/a.jpg`` becomes
``out/day1/a_denoised.jpg``. A plan never points an output at its own input.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denoiser.cancel import CancelToken, check
from denoiser.errors import DenoiserError
from denoiser.gui import backend

# output format key -> (suffix or None for "as the input", forced bit depth)
FORMATS: dict[str, tuple[str | None, int | None]] = {
    "same": (None, None),
    "png": (".png", None),
    "jpeg": (".jpg", 8),
    "tiff16": (".tif", 16),
}
FORMAT_LABELS = {
    "same": "Same as input",
    "png": "PNG",
    "jpeg": "JPEG",
    "tiff16": "TIFF 16-bit",
}
PATTERN_FIELDS = {"stem", "model", "sigma", "index"}


@dataclass
class Source:
    path: Path
    root: Path | None = None  # the dropped folder it came from, for the relative layout


def own_output_suffix(pattern: str) -> str | None:
    """The fixed ending a pattern like ``{stem}_denoised`` adds, or None if not that simple."""
    if not pattern.startswith("{stem}"):
        return None
    rest = pattern[len("{stem}"):]
    return rest if rest and "{" not in rest and "}" not in rest else None


def collect(paths: list[str | Path], pattern: str = "", out_dir: str | Path | None = None,
            token: CancelToken | None = None) -> tuple[list[Source], list[Path]]:
    """Expand files and folders into supported image files (sorted, subfolders included).

    Returns (sources, skipped): skipped are files given directly whose type is not
    supported; unsupported files inside folders are silently left out, as expected.
    Inside folders, results of an earlier run (names ending like ``pattern`` makes them,
    or anything under ``out_dir``) are left out too, so running twice does not chain.
    ``token`` is checked once per folder: a walk of a large network share can be stopped.
    """
    suffix = own_output_suffix(pattern)
    out = Path(out_dir).resolve() if out_dir else None

    def earlier_result(f: Path) -> bool:
        if suffix and f.stem.endswith(suffix):
            return True
        return out is not None and out in f.resolve().parents

    sources: list[Source] = []
    skipped: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for dirpath, dirnames, filenames in os.walk(p):
                check(token)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for f in filenames:
                    fp = Path(dirpath) / f
                    if (not f.startswith(".") and backend.is_supported(fp)
                            and not earlier_result(fp)):
                        found.append(fp)
            sources.extend(Source(fp, p) for fp in sorted(found))
        elif backend.is_supported(p):
            sources.append(Source(p, None))
        else:
            skipped.append(p)
    return sources, skipped


def check_pattern(pattern: str) -> str | None:
    """None if the naming pattern is usable, else one sentence saying what is wrong."""
    if not pattern.strip():
        return "The naming pattern is empty."
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError:
        return "The naming pattern has an unmatched brace."
    unknown = fields - PATTERN_FIELDS
    if unknown:
        names = ", ".join("{" + f + "}" for f in sorted(PATTERN_FIELDS))
        return f"Unknown field {{{sorted(unknown)[0]}}} in the naming pattern (use {names})."
    if "/" in pattern or "\\" in pattern:
        return "The naming pattern must not contain folder separators."
    return None


def output_path(src: Source, out_dir: str | Path | None, pattern: str, fmt: str,
                model: str = "", sigma: float | None = None, index: int = 0) -> Path:
    """Where the result of ``src`` goes."""
    suffix, _ = FORMATS[fmt]
    suffix = suffix or src.path.suffix.lower()
    name = pattern.format(stem=src.path.stem, model=model,
                          sigma="auto" if sigma is None else f"{sigma:g}", index=index + 1)
    if out_dir:
        base = Path(out_dir)
        if src.root is not None:
            base = base / src.path.parent.relative_to(src.root)
    else:
        base = src.path.parent
    return base / f"{name}{suffix}"


def file_models(sources: list[Source], model: Any,
                model_for: Callable[[int], Any] | None) -> list[Any]:
    """The model each source goes through: ``model`` for all, or, with ``model_for`` (the
    user picked none), the one for the source's channels, as the CLI does per file.

    A file whose header cannot be read gets ``model``: reading it fails again in the batch,
    which reports it there, beside the other files.
    """
    if model_for is None:
        return [model] * len(sources)
    chosen = []
    for src in sources:
        try:
            chosen.append(model_for(backend.read_channels(src.path)))
        except DenoiserError:
            chosen.append(model)
    return chosen


def plan(sources: list[Source], out_dir: str | Path | None, pattern: str, fmt: str,
         model: str | Sequence[str] = "", sigma: float | None = None
         ) -> list[tuple[Source, Path]]:
    """Outputs for all sources (``model``: the name for ``{model}``, one for all or one per
    source); raises ValueError (one sentence) for a plan that would overwrite an input or
    write two results to the same file."""
    problem = check_pattern(pattern)
    if problem:
        raise ValueError(problem)
    names = [model] * len(sources) if isinstance(model, str) else list(model)
    seen: dict[Path, Path] = {}
    out = []
    for i, src in enumerate(sources):
        dst = output_path(src, out_dir, pattern, fmt, names[i], sigma, i)
        if _same(dst, src.path):
            raise ValueError(f"The result of {src.path.name} would overwrite the original; "
                             "change the naming pattern or the output folder.")
        key = Path(os.path.normcase(str(dst)))
        if key in seen:
            raise ValueError(f"{src.path.name} and {seen[key].name} would both be saved as "
                             f"{dst.name}; add {{index}} to the naming pattern.")
        seen[key] = src.path
        out.append((src, dst))
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return os.path.normcase(str(a)) == os.path.normcase(str(b))
