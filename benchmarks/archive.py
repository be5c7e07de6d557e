"""Images per second of ``denoiser batch`` (Ray actors) and of the plain CLI on the same images.

    python benchmarks/archive.py [--data DIR | --count 40 --mp 1] [--actors 1 2] [--threads 1]
                                 [--cli-threads 1 2] [--model NAME|PATH] [--json PATH]

Without --data, ``--count`` copies of one synthetic noisy JPEG of ``--mp`` megapixels
(benchmarks/memory.py's ``write_jpeg``) are made in a temporary folder. Each case runs the real
command in a fresh process (``python -m denoiser batch ... --actors N --threads T`` or
``python -m denoiser denoise ... --threads T``) into an empty output folder, and gives two rates:

  wall    images / the command's whole wall time: Python, Ray and session start-up included
  steady  images finished after the first one / the time from the first to the last: the rate
          once running, which is what decides a large archive

Ray's start-up (several seconds) is in ``wall`` only, so a few dozen images understate what the
actor pool gives on a long run; ``steady`` shows it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

from benchmarks.memory import write_jpeg  # noqa: E402
from denoiser.bench import machine_info  # noqa: E402


def make_images(folder: Path, count: int, megapixels: float) -> Path:
    """``count`` copies of one synthetic JPEG: every image costs the same to decode and denoise."""
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "img000.jpg"
    write_jpeg(first, megapixels)
    for i in range(1, count):
        shutil.copyfile(first, folder / f"img{i:03d}.jpg")
    return folder


def case_command(case: dict, data: Path, out: Path, args: argparse.Namespace) -> list[str]:
    """The command a user would type for one case, as an argument list."""
    common = [
        str(data),
        "--out-dir",
        str(out),
        "--model",
        args.model,
        "--sigma",
        args.sigma,
        "--device",
        "cpu",
        "--threads",
        str(case["threads"]),
    ]
    if case["kind"] == "batch":
        return [sys.executable, "-m", "denoiser", "batch", *common, "--actors", str(case["actors"])]
    return [sys.executable, "-m", "denoiser", "denoise", *common]


def run_case(cmd: list[str]) -> dict:
    """Run one command, timing each finished image as its line arrives on stdout."""
    finished: list[float] = []
    load = os.getloadavg()[0]  # other work on the machine skews every figure: say how much
    start = time.perf_counter()
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    ) as proc:
        for line in proc.stdout:
            if " -> " in line:
                finished.append(time.perf_counter() - start)
        err = proc.stderr.read()
    wall = time.perf_counter() - start
    n = len(finished)
    steady = (
        (n - 1) / (finished[-1] - finished[0]) if n > 1 and finished[-1] > finished[0] else None
    )
    row = {
        "rc": proc.returncode,
        "images": n,
        "wall_s": wall,
        "wall_ips": n / wall,
        "steady_ips": steady,
        "first_image_s": finished[0] if finished else None,
        "load_before": load,
    }
    if proc.returncode != 0:
        row["error"] = (err.strip().splitlines() or ["?"])[-1]
    return row


def cases(args: argparse.Namespace) -> list[dict]:
    runs = [{"kind": "batch", "actors": a, "threads": args.threads} for a in args.actors]
    return runs + [{"kind": "cli", "actors": None, "threads": t} for t in args.cli_threads]


def label(case: dict) -> str:
    if case["kind"] == "batch":
        return f"batch, {case['actors']} actor(s) x {case['threads']} thread(s)"
    return f"plain CLI, {case['threads']} thread(s)"


def format_row(case: dict, r: dict) -> str:
    steady = f"{r['steady_ips']:.2f}" if r["steady_ips"] else "-"
    first = f"{r['first_image_s']:.1f}" if r["first_image_s"] is not None else "-"
    text = (
        f"{label(case):38} {r['images']:>6} {r['wall_s']:>7.1f} {r['wall_ips']:>7.2f} "
        f"{steady:>7} {first:>8} {r['load_before']:>5.1f}"
    )
    return text + (f"  rc {r['rc']}: {r.get('error', '')}" if r["rc"] else "")


HEADER = (
    f"{'case':38} {'images':>6} {'wall s':>7} {'wall/s':>7} {'steady':>7} {'first s':>8} "
    f"{'load':>5}"
)


def command_line(args: argparse.Namespace) -> str:
    """This script's command line as run, for the JSON."""
    data = f"--data {args.data}" if args.data else f"--count {args.count} --mp {args.mp:g}"
    parts = [
        "python benchmarks/archive.py",
        data,
        "--actors " + " ".join(map(str, args.actors)),
        f"--threads {args.threads}",
        "--cli-threads " + " ".join(map(str, args.cli_threads)),
        f"--model {args.model}",
    ]
    return " ".join(parts + ([f"--json {args.json}"] if args.json else []))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, help="a folder of images (default: make synthetic ones)")
    p.add_argument("--count", type=int, default=40, help="synthetic images (default 40)")
    p.add_argument("--mp", type=float, default=1.0, help="their megapixels (default 1)")
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="pool sizes (1 2)")
    p.add_argument("--threads", type=int, default=1, help="threads per actor (default 1)")
    p.add_argument(
        "--cli-threads",
        type=int,
        nargs="+",
        default=[1, os.cpu_count() or 1],
        help="threads of the plain CLI runs (default: 1 and all cores)",
    )
    p.add_argument("--model", default="ae-color", help="model name or .onnx (default ae-color)")
    p.add_argument("--sigma", default="auto", help="noise level or 'auto' (default, as users)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or make_images(Path(tmp) / "in", args.count, args.mp)
        print(f"model {args.model}, images from {args.data or f'{args.count} x {args.mp:g} MP'}")
        print(HEADER, flush=True)
        rows = []
        for i, case in enumerate(cases(args)):
            result = run_case(case_command(case, data, Path(tmp) / f"out{i}", args))
            rows.append({**case, "label": label(case), **result})
            print(format_row(case, result), flush=True)
    report = {
        "command": command_line(args),
        "machine": machine_info(args.threads),
        "model": args.model,
        "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
