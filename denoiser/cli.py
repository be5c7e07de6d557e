"""Command line: ``denoiser denoise INPUT...``, ``models``, ``bench`` and ``batch`` (on Ray).

Why so careful about errors: a batch of a thousand photos must not stop at the first
unreadable one, must never overwrite a file it was not told to, and must tell a user
what went wrong in one sentence, never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from denoiser import __version__
from denoiser.errors import Cancelled, DenoiserError, ModelError
from denoiser.tiling import DEFAULT_TILE

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
COMMANDS = ("denoise", "models", "bench", "batch")

EXIT_HELP = """exit status:
  0    every image was denoised
  1    some or all images were not (failed, or skipped because the output exists)
  2    usage error: bad arguments, unknown model
  3    the model could not be loaded or run
  130  interrupted (Ctrl-C); finished outputs are kept, nothing is half-written
"""


class UsageError(Exception):
    """Arguments that parse but do not make sense together (exit 2)."""


# ----------------------------------------------------------------------------- parser


def _sigma(text: str) -> float | str:
    if text.lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', not {text!r}") from e
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError("the noise level must be between 0 and 255")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from e
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_denoise(sub) -> None:
    p = sub.add_parser(
        "denoise", help="denoise images or folders of images",
        description="Denoise images. Folders are walked with their subfolders. Results go "
        "beside each input as <stem>_denoised<ext> unless -o or --out-dir says otherwise; "
        "existing files are never replaced without --overwrite.",
        epilog=EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
    out.add_argument("--out-dir", metavar="DIR",
                     help="write results here, keeping the folder structure of folder inputs")
    add_image_options(p)


def add_image_options(p, threads_help: str = "CPU threads (default: all cores)") -> None:
    """The options ``denoise`` and ``batch`` share, so both name and check them alike."""
    p.add_argument("--model", metavar="NAME|PATH",
                   help="model name (see `denoiser models`) or .onnx file; default: "
                   "chosen by the image's channels")
    p.add_argument("--sigma", type=_sigma, default="auto", metavar="N|auto",
                   help="noise level on the 0-255 scale, or 'auto' to estimate it (default)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--tile", type=_positive, default=None, metavar="N",
                   help="tile size in pixels; smaller uses less memory (default: the model's "
                        f"own, else {DEFAULT_TILE})")
    p.add_argument("--threads", type=_positive, default=None, metavar="N", help=threads_help)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--suffix", default="_denoised", help="added to output names")
    p.add_argument("--format", dest="fmt", metavar="EXT", default=None,
                   help="output file type, e.g. png or tif (default: as the input)")
    p.add_argument("--samples", type=_positive, default=0, metavar="K",
                   help="VAE models: output the mean of K samples")
    p.add_argument("--uncertainty", action="store_true",
                   help="VAE models: also write <stem>_uncertainty.png (the samples' spread)")
    p.add_argument("--seed", type=int, default=None, help="seed for repeatable --samples")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="denoiser", description="Denoise photos and scans with ONNX models.",
        epilog="`denoiser photo.jpg` is short for `denoiser denoise photo.jpg`.\n\n" + EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"denoiser {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_denoise(sub)
    m = sub.add_parser("models", help="list the installed models",
                       description="List shipped and user models with their metadata.")
    m.add_argument("--json", action="store_true", help="machine-readable output")
    from denoiser import bench

    bench.add_subparser(sub)
    from denoiser import archive  # its Ray import waits until `batch` runs

    archive.add_subparser(sub)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """``denoiser photo.jpg ...`` means ``denoiser denoise photo.jpg ...``."""
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return ["denoise", *argv]
    return argv


# ----------------------------------------------------------------------------- progress


class ProgressBar:
    """A one-line bar on stderr, only for a terminal; redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, enabled: bool):
        self.stream, self.enabled = stream, enabled and stream.isatty()
        self.label, self._last, self._drawn = "", 0.0, False

    def start(self, label: str) -> None:
        self.label, self._last = label, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self.label[:40]:40} [{bar}] {100 * done // max(total, 1):3d}%")
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
            self._drawn = False


# ----------------------------------------------------------------------------- denoise


@dataclass
class Tally:
    total: int = 0
    done: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.done} of {self.total} images denoised"
        extra = [f"{len(v)} {k}" for k, v in (("skipped", self.skipped), ("failed", self.failed))
                 if v]
        return text + (f" ({', '.join(extra)})" if extra else "")

    def exit_code(self) -> int:
        return EXIT_OK if self.done == self.total else EXIT_FAILED


def _plan(args) -> list[tuple[Path, Path]]:
    from denoiser import batch

    if args.output:
        out = Path(args.output)
        if out.is_dir():
            return batch.plan_outputs(args.inputs, out, args.suffix, args.fmt)
        if len(args.inputs) != 1 or Path(args.inputs[0]).is_dir():
            raise UsageError("-o names one output file, so it takes exactly one input file; "
                             "use --out-dir for several.")
        return [(Path(args.inputs[0]), out)]
    return batch.plan_outputs(args.inputs, args.out_dir, args.suffix, args.fmt)


def _engine_source(args) -> Callable[[int], object]:
    """Image channels -> Engine: the --model one, or the default model for those channels.

    The --model is loaded now, so that an unknown or broken model stops before any work.
    """
    from denoiser.engine import get_engine
    from denoiser.models import default_model, find_model

    sampling = args.samples > 0
    if args.model:
        info = find_model(args.model)
        if sampling and not info.stochastic:
            raise UsageError(f"Model {info.name} is not stochastic (a VAE), so --samples "
                             "and --uncertainty cannot be used with it.")
        engine = get_engine(info, args.device, args.threads)
        return lambda channels: engine
    return lambda channels: get_engine(default_model(channels, stochastic=sampling),
                                       args.device, args.threads)


def _check_args(args) -> None:
    if args.uncertainty and args.samples == 0:
        args.samples = 8
    if args.uncertainty and args.samples < 2:
        raise UsageError("--uncertainty needs at least 2 samples (--samples K).")
    if "/" in args.suffix or "\\" in args.suffix:
        raise UsageError("--suffix must not contain folder separators.")


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)


def _report_done(args, result) -> None:
    sigma = "" if result.sigma is None else f", sigma {result.sigma:.1f}"
    extra = f" + {result.uncertainty.name}" if result.uncertainty else ""
    _say(args, f"{result.src} -> {result.dst}{extra} ({result.model}{sigma}, "
               f"{result.seconds:.1f} s)")


def _reason(e: BaseException) -> str:
    """One sentence for a per-file failure, also for errors the core did not wrap."""
    if isinstance(e, DenoiserError):
        return str(e)
    if isinstance(e, MemoryError):
        return "Not enough memory for this image (try a smaller --tile)."
    return f"{getattr(e, 'strerror', None) or e}."


def _run_one(args, engines, src: Path, dst: Path, bar: ProgressBar, tally: Tally) -> None:
    """Denoise one file; a bad file is reported and counted, a bad model is raised."""
    from denoiser import batch

    bar.start(src.name)
    try:
        result = batch.denoise_file(
            engines, src, dst, args.sigma, tile=args.tile, samples=args.samples,
            uncertainty=args.uncertainty, overwrite=args.overwrite, seed=args.seed,
            progress=bar)
    except batch.OutputExists as e:
        bar.clear()
        tally.skipped.append(str(src))
        print(f"skipped {src}: {e}", file=sys.stderr)
        return
    except ModelError:
        raise
    except (DenoiserError, OSError, MemoryError) as e:
        bar.clear()
        tally.failed.append(str(src))
        print(f"{src}: {_reason(e)}", file=sys.stderr)
        return
    bar.clear()
    tally.done += 1
    _report_done(args, result)


def _finish(args, tally: Tally) -> int:
    line = tally.line()
    if tally.done == tally.total:
        _say(args, line)
    else:
        print(line, file=sys.stderr if args.quiet else sys.stdout)
    return tally.exit_code()


def cmd_denoise(args) -> int:
    from denoiser import batch

    _check_args(args)
    plan = _plan(args)
    if not plan:
        print("No supported images found in the given inputs.", file=sys.stderr)
        return EXIT_FAILED
    engines = _engine_source(args)
    clash = batch.collisions(plan)
    tally = Tally(total=len(plan))
    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    try:
        for src, dst in plan:
            if src in clash:
                tally.failed.append(str(src))
                print(f"{src}: its output {dst} would replace that of {clash[src]}.",
                      file=sys.stderr)
                continue
            _run_one(args, engines, src, dst, bar, tally)
    except (KeyboardInterrupt, Cancelled):
        bar.clear()
        print(f"\ninterrupted: {tally.line()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ModelError as e:
        bar.clear()
        print(f"{e}\n{tally.line()}", file=sys.stderr)
        return EXIT_MODEL
    return _finish(args, tally)


# ----------------------------------------------------------------------------- models


def _model_rows(models) -> list[str]:
    head = f"{'NAME':16} {'FAMILY':6} {'CH':2} {'SIGMA':9} {'MULT':4} {'VERSION':8} PATH"
    rows = [head]
    for m in models:
        lo, hi = m.sigma_range
        sigma = "blind" if m.blind else f"{lo:g}-{hi:g}"
        rows.append(f"{m.name:16} {m.family:6} {m.channels:<2} {sigma:9} {m.multiple:<4} "
                    f"{m.version or '-':8} {m.path}")
        if m.description:
            rows.append(f"{'':16} {m.description}")
    return rows


def cmd_models(args) -> int:
    from denoiser.models import discover_models, shipped_models_dir, user_models_dir

    models = discover_models()
    if args.json:
        print(json.dumps([m.summary() for m in models], indent=2))
        return EXIT_OK
    if models:
        print("\n".join(_model_rows(models)))
    else:
        print("No models installed.")
    print(f"\nshipped models: {shipped_models_dir()}\nyour models:    {user_models_dir()}")
    return EXIT_OK


# ----------------------------------------------------------------------------- main


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (it may be replaced, e.g. by tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _setup_logging() -> None:
    """Warnings (a skipped broken model, a CUDA fallback) go to stderr as plain lines."""
    root = logging.getLogger("denoiser")
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``denoiser`` and ``python -m denoiser``; returns the exit status."""
    argv = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 0 for --help/--version and 2 for bad usage
        return int(e.code or 0)
    _setup_logging()
    try:
        return _dispatch(args)
    except BrokenPipeError:  # `denoiser models | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args) -> int:
    from denoiser.models import ModelNotFoundError

    try:
        if args.command == "bench":
            from denoiser.bench import cmd_bench

            return cmd_bench(args)
        if args.command == "batch":
            from denoiser.archive import cmd_batch

            return cmd_batch(args)
        return cmd_models(args) if args.command == "models" else cmd_denoise(args)
    except UsageError as e:
        print(f"denoiser: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ModelNotFoundError as e:
        print(f"denoiser: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ModelError as e:
        print(f"denoiser: {e}", file=sys.stderr)
        return EXIT_MODEL
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DenoiserError as e:
        print(f"denoiser: {e}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
