"""The command line end to end on a synthetic JPEG: where the seconds go, and peak memory.

    python benchmarks/cli_e2e.py --mp 6 24 96 [--model NAME|PATH] [--threads N] [--json PATH]

For each size a fresh worker process writes a noisy synthetic JPEG (benchmarks/memory.py's
``write_jpeg``) and then runs the real CLI (``denoiser.cli.main``, the same code path as
``denoiser photo.jpg``) in a child of its own, its only child, whose peak RSS it reads
afterwards (``getrusage(RUSAGE_CHILDREN)``, as benchmarks/memory.py does). Inside that child
the core's stages are wrapped with timers, so one run gives:

  decode    denoiser.imageio.read_image
  estimate  denoiser.noise.estimate_sigma (the noise level, with --sigma auto)
  session   starting the onnxruntime session (Engine.__init__)
  denoise   Engine.denoise (all tiles)
  encode    denoiser.imageio.write_image (atomic JPEG write)
  other     the rest of the wall time: interpreter start, imports, planning, clipping

Without --model the default colour model is used if one is installed (ae-color), else
memory.py's small stand-in conv model, and the JSON says which. Unix only (resource module).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

from benchmarks.memory import build_conv_model, peak_children_mb, write_jpeg  # noqa: E402
from denoiser.bench import LoadMeter, machine_info  # noqa: E402
from denoiser.tiling import DEFAULT_TILE  # noqa: E402

STAGES = ("decode", "estimate", "session", "denoise", "encode")


# ----------------------------------------------------------------------------- the CLI child


def _timed(fn: Callable, stage: str, totals: dict[str, float]) -> Callable:
    """``fn`` that adds its own wall time to ``totals[stage]``."""

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[stage] += time.perf_counter() - t

    return wrapper


def install_timers(totals: dict[str, float]) -> None:
    """Wrap the core's stages where the CLI looks them up (module attributes, at call time)."""
    from denoiser import engine, imageio, noise

    imageio.read_image = _timed(imageio.read_image, "decode", totals)
    imageio.write_image = _timed(imageio.write_image, "encode", totals)
    noise.estimate_sigma = _timed(noise.estimate_sigma, "estimate", totals)
    engine.Engine.__init__ = _timed(engine.Engine.__init__, "session", totals)
    engine.Engine.denoise = _timed(engine.Engine.denoise, "denoise", totals)


def cli_child(cli_args: list[str]) -> int:
    """Run the CLI with stage timers; print the stage seconds as the last stdout line."""
    from denoiser import cli

    totals: dict[str, float] = defaultdict(float)
    install_timers(totals)
    rc = cli.main(cli_args)
    print(json.dumps({"rc": rc, **{f"{s}_s": totals[s] for s in STAGES}}), flush=True)
    return 0


# ----------------------------------------------------------------------------- the worker


def cli_args(src: Path, dst: Path, args: argparse.Namespace) -> list[str]:
    """The arguments a user would give: ``denoiser SRC -o DST --model M ...``."""
    out = ["denoise", str(src), "-o", str(dst), "--model", args.model,
           "--sigma", args.sigma, "--device", "cpu", "--quiet", "--overwrite"]
    out += ["--tile", str(args.tile)] if args.tile else []  # else the model's own, as a user's
    return out + (["--threads", str(args.threads)] if args.threads else [])


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (the CLI run, once waited for)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker(args: argparse.Namespace) -> None:
    """One size: write the JPEG, run the CLI child as this process's only child, report."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "synthetic.jpg", Path(tmp) / "synthetic_denoised.jpg"
        w, h = write_jpeg(src, args.mp[0])
        jpeg_mb = src.stat().st_size / 2**20
        cmd = [sys.executable, __file__, "--cli-child", "--", *cli_args(src, dst, args)]
        with LoadMeter(own=children_cpu_s) as load:
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    stages = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {
        "rc": proc.returncode, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    known = sum(stages.get(f"{s}_s", 0.0) for s in STAGES)
    print(json.dumps({"mp": args.mp[0], "width": w, "height": h, "jpeg_mb": jpeg_mb,
                      "peak_mb": peak_children_mb(), "wall_s": wall, "others_cores": load.cores,
                      "other_s": max(0.0, wall - known), **stages}))


# ----------------------------------------------------------------------------- the parent


def run_size(mp: float, model: str, args: argparse.Namespace) -> dict:
    """One size in a fresh worker process (so the JPEG's creation never counts)."""
    cmd = [sys.executable, __file__, "--worker", "--mp", str(mp), "--model", model,
           "--sigma", args.sigma]
    if args.tile:
        cmd += ["--tile", str(args.tile)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pick_model(wanted: str | None, tmp: Path) -> tuple[str, str]:
    """(model argument for the CLI, how to describe it): --model, ae-color, or a stand-in."""
    if wanted:
        return wanted, wanted
    from denoiser.errors import ModelError
    from denoiser.models import default_model

    try:
        info = default_model(3)
    except ModelError:  # nothing installed yet: time the pipeline with a stand-in
        path = build_conv_model(tmp / "stand-in.onnx")
        return str(path), "stand-in 3-layer conv model (benchmarks/memory.py), no model installed"
    return str(info.path), info.name


HEADER = (f"{'MP':>5} {'size':>11} {'decode':>7} {'estim.':>7} {'session':>7} {'denoise':>8} "
          f"{'encode':>7} {'other':>6} {'total s':>8} {'peak MB':>8} rc")


def format_row(r: dict) -> str:
    """One size's stage seconds, total and peak memory."""
    if "error" in r:
        return f"{r['mp']:>5g} failed: {r['error']}"
    return (f"{r['mp']:>5g} {r['width']:>5}x{r['height']:<5} {r['decode_s']:>7.2f} "
            f"{r['estimate_s']:>7.2f} {r['session_s']:>7.2f} {r['denoise_s']:>8.2f} "
            f"{r['encode_s']:>7.2f} {r['other_s']:>6.2f} {r['wall_s']:>8.2f} "
            f"{r['peak_mb']:>8.0f} {r['rc']}")


def command_line(args: argparse.Namespace) -> str:
    parts = ["python benchmarks/cli_e2e.py --mp " + " ".join(f"{m:g}" for m in args.mp)]
    for flag, value, default in (("--model", args.model, None),
                                 ("--tile", args.tile, None),
                                 ("--threads", args.threads, None),
                                 ("--sigma", args.sigma, "auto"), ("--json", args.json, None)):
        if value != default:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mp", type=float, nargs="+", default=[6.0, 24.0, 96.0], help="megapixels")
    p.add_argument("--model", default=None, help="model name or .onnx (default: ae-color)")
    p.add_argument("--tile", type=int, default=None,
                   help=f"tile size (default: the CLI's, the model's own else {DEFAULT_TILE})")
    p.add_argument("--threads", type=int, default=None, help="default: all cores, as the CLI")
    p.add_argument("--sigma", default="auto", help="noise level or 'auto' (default, as the CLI)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["--cli-child", "--"]:
        return cli_child(argv[2:])
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        model, label = pick_model(args.model, Path(tmp))
        threads = args.threads or os.cpu_count()
        tile = args.tile or "the model's own"
        print(f"model {label}, tile {tile}, threads {threads}, sigma {args.sigma}")
        print(HEADER, flush=True)
        rows = []
        for mp in args.mp:
            rows.append(run_size(mp, model, args))
            print(format_row(rows[-1]), flush=True)
    result = {"command": command_line(args), "machine": machine_info(args.threads),
              "model": label, "tile": args.tile, "sigma": args.sigma, "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(r.get("rc") == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
