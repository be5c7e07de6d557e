"""``denoiser bench``: how fast each installed model runs on this machine, and how much memory.

People use it to pick a model and a device, so it measures what they will get: the engine's
tiled path on synthetic images of a few sizes (1, 12 and 24 megapixels by default), after a
warm-up, the median of ``--repeat`` runs, as megapixels per second.

Why one fresh process per (model, device, size): peak memory is only meaningful from a clean
start. A process's peak resident set never goes down, so a second case measured in the same
process would report the first one's peak. Each case therefore runs in a child
(``denoiser bench --case JSON``, hidden) that reports its own peak RSS (VmHWM on Linux,
``ru_maxrss`` elsewhere on Unix) and its resident size just before the image was made, so
that the table can show what the image itself cost on top of the interpreter and the session.

Why each case also reports ``others_cores``: on a shared machine other processes take cores
while the clock runs, and a figure is only honest with a note of how busy the machine was.

No torch, no Qt: this is part of the core and runs from the installed app.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoiser.cli import _positive
from denoiser.cpu import cpuinfo_flags, int8_instructions
from denoiser.tiling import DEFAULT_TILE

DEFAULT_SIZES = (1.0, 12.0, 24.0)
BENCH_SIGMA = 25.0  # a fixed level: estimating it is not the model's cost
BUSY_CORES = 0.25  # other processes' load from which a figure is flagged as slowed down


# ----------------------------------------------------------------------------- parser


def add_subparser(sub: Any) -> None:
    """Add ``bench`` to the CLI's subparsers (the CLI stays free of benchmark details)."""
    p = sub.add_parser(
        "bench", help="measure each model's speed and memory on this machine",
        description="Megapixels per second and peak memory of each installed model (or "
        "--model) on each available device, on synthetic images; each case runs in a fresh "
        "process so that its peak memory is its own.")
    p.add_argument("--model", action="append", metavar="NAME|PATH",
                   help="only this model (repeatable); default: every installed model")
    p.add_argument("--device", action="append", choices=("cpu", "cuda"),
                   help="only this device (repeatable); default: every available one")
    p.add_argument("--sizes", type=_positive_float, nargs="+", default=list(DEFAULT_SIZES),
                   metavar="MP", help="image sizes in megapixels (default: 1 12 24)")
    p.add_argument("--repeat", type=_positive, default=3, metavar="N",
                   help="timed runs per case after one warm-up; the median is shown (default 3)")
    p.add_argument("--threads", type=_positive, default=None, metavar="N",
                   help="CPU threads (default: all cores)")
    p.add_argument("--tile", type=_positive, default=None, metavar="N",
                   help="tile size in pixels (default: the model's own, else "
                        f"{DEFAULT_TILE}, as the engine picks)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    p.add_argument("--case", help=argparse.SUPPRESS)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from e
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


# ----------------------------------------------------------------------------- the child


def synthetic_image(megapixels: float, channels: int, seed: int = 0) -> np.ndarray:
    """A 3:2 noisy gradient, float32 H x W x C in 0..1, built row block by row block.

    Why synthetic: any photo works for timing, and a generated one needs no file and no
    decoder (decoding is `benchmarks/cli_e2e.py`'s business). Noise at sigma 25.
    """
    w = max(16, int(math.sqrt(megapixels * 1e6 * 1.5)))
    h = max(16, int(megapixels * 1e6 / w))
    rng = np.random.default_rng(seed)
    x = np.linspace(0.15, 0.85, w, dtype=np.float32)
    img = np.empty((h, w, channels), np.float32)
    for y0 in range(0, h, 512):
        rows = min(512, h - y0)
        img[y0:y0 + rows] = x[None, :, None] + np.float32(0.1 * y0 / h)
        img[y0:y0 + rows] += rng.standard_normal((rows, w, channels), np.float32) * 0.098
    return img


def peak_rss_mb() -> float | None:
    """This process's peak resident set in MB: VmHWM on Linux, else ``ru_maxrss``."""
    status = _proc_status("VmHWM")
    if status is not None:
        return status
    try:
        import resource
    except ImportError:  # Windows: no resource module and no /proc
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    """This process's resident set now, in MB (Linux only; None elsewhere)."""
    return _proc_status("VmRSS")


def _proc_status(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def own_cpu_s() -> float:
    """CPU seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


def machine_cpu_s() -> float | None:
    """CPU seconds every process on the machine has used since boot (Linux; None elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


class LoadMeter:
    """How many cores *other* processes kept busy while a measurement ran (a context manager).

    ``own`` tells the CPU seconds of what is being measured (this process by default, or a
    parent's finished children); the rest of the machine's busy time is the others'.
    ``cores`` stays None where /proc/stat does not exist.
    """

    def __init__(self, own: Callable[[], float] = own_cpu_s):
        self.own, self.cores = own, None

    def __enter__(self) -> LoadMeter:
        self._start = (time.perf_counter(), machine_cpu_s(), self.own())
        return self

    def __exit__(self, *exc: object) -> None:
        wall0, busy0, own0 = self._start
        busy, wall = machine_cpu_s(), time.perf_counter() - wall0
        if busy is not None and busy0 is not None and wall > 0:
            self.cores = max(0.0, (busy - busy0 - (self.own() - own0)) / wall)


def run_case(model_path: str, device: str, megapixels: float, repeat: int,
             threads: int | None, tile: int | None) -> dict[str, Any]:
    """Time one model on one device on one image size, in this process; a JSON-ready dict.

    The session starts and one warm-up run on a single tile happens before the image is
    made, so neither session start nor first-run allocation is counted as speed.
    """
    from denoiser.engine import Engine
    from denoiser.models import load_model_info

    info = load_model_info(model_path)
    start = time.perf_counter()
    engine = Engine(info, device, threads)
    session_s = time.perf_counter() - start
    tile = tile or engine.default_tile
    warm = synthetic_image(tile * tile / 1e6, info.channels, seed=1)
    engine.denoise(warm, BENCH_SIGMA, tile=tile)
    del warm
    base_mb = current_rss_mb()
    image = synthetic_image(megapixels, info.channels)
    seconds = []
    with LoadMeter() as load:
        for _ in range(repeat):
            t = time.perf_counter()
            engine.denoise(image, BENCH_SIGMA, tile=tile)
            seconds.append(time.perf_counter() - t)
    h, w = image.shape[:2]
    median = statistics.median(seconds)
    return {
        "model": info.name, "path": str(info.path), "device": engine.device,
        "stands_in_for": info.metadata.get("stand_in_for"), "requested_device": device,
        "fallback": engine.fallback_reason,
        "megapixels": h * w / 1e6, "width": w, "height": h, "channels": info.channels,
        "threads": engine.threads, "tile": tile, "repeat": repeat, "seconds": seconds,
        "median_s": median, "mp_per_s": h * w / 1e6 / median, "session_s": session_s,
        "base_rss_mb": base_mb, "peak_rss_mb": peak_rss_mb(), "others_cores": load.cores,
    }


def _child(case_json: str) -> int:
    """Run one case and print its result as the last line of stdout."""
    case = json.loads(case_json)
    result = run_case(case["model"], case["device"], case["megapixels"], case["repeat"],
                      case["threads"], case["tile"])
    print(json.dumps(result), flush=True)
    return 0


# ----------------------------------------------------------------------------- the parent


def _child_command(case: dict[str, Any]) -> list[str]:
    """How to start ``denoiser bench --case``: the bundle's own executable, or this Python."""
    head = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m",
                                                                   "denoiser"]
    return [*head, "bench", "--case", json.dumps(case)]


def spawn_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in a fresh process; on failure, a row that says why instead of figures."""
    proc = subprocess.run(_child_command(case), capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines and lines[-1].startswith("{"):
        return json.loads(lines[-1])
    if proc.returncode < 0:  # a signal: on Linux usually the out-of-memory killer
        err = f"killed by signal {-proc.returncode} (out of memory?)"
    else:
        err = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return {"model": Path(case["model"]).stem, "path": case["model"],
            "requested_device": case["device"], "device": case["device"],
            "megapixels": case["megapixels"], "error": err[:300]}


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """What the figures depend on: CPU, core count, threads used, library versions."""
    import onnxruntime as ort

    return {"cpu": _cpu_name(), "cores": os.cpu_count(), "threads": threads or os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "onnxruntime": ort.__version__, "numpy": np.__version__}


def _cpu_name() -> str:
    """The CPU's model name and int8 instructions from /proc/cpuinfo; elsewhere what
    ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return cpu_description(f.read()) or platform.processor() or platform.machine()
    except OSError:  # not Linux
        return platform.processor() or platform.machine()


def cpu_description(cpuinfo: str) -> str:
    """"AMD EPYC (AVX2, no VNNI)" from /proc/cpuinfo's text; "" if it names no CPU.

    Why the instructions: the same model name covers CPUs whose int8 convolutions differ
    threefold (:mod:`denoiser.cpu`).
    """
    lines = cpuinfo.splitlines()
    names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    if not names:
        return ""
    flags = cpuinfo_flags(cpuinfo)
    return f"{names[0]} ({int8_instructions(flags)})" if flags else names[0]


def _models(names: Sequence[str] | None) -> list:
    from denoiser.errors import ModelError
    from denoiser.models import discover_models, find_model

    models = [find_model(n) for n in names] if names else discover_models()
    if not models:
        raise ModelError("No model is installed, so there is nothing to measure.")
    return models


def _devices(wanted: Sequence[str] | None) -> list[str]:
    """The asked-for devices (an unavailable one shows its CPU fallback), else all available."""
    from denoiser.engine import available_devices

    return list(dict.fromkeys(wanted)) if wanted else available_devices()


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Every (model, device, size) case, each in its own process; rows print as they come."""
    models, devices = _models(args.model), _devices(args.device)
    rows = []
    print(HEADER, flush=True)
    for model in models:
        for device in devices:
            for mp in args.sizes:
                case = {"model": str(model.path), "device": device, "megapixels": mp,
                        "repeat": args.repeat, "threads": args.threads, "tile": args.tile}
                rows.append(spawn_case(case))
                print(format_row(rows[-1]), flush=True)
    return {"command": command_line(args), "machine": machine_info(args.threads),
            "sigma": BENCH_SIGMA, "rows": rows}


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces these figures (for the docs built from the JSON)."""
    parts = ["denoiser bench"]
    parts += [f"--model {m}" for m in args.model or []]
    parts += [f"--device {d}" for d in args.device or []]
    parts.append("--sizes " + " ".join(f"{s:g}" for s in args.sizes))
    parts.append(f"--repeat {args.repeat}")
    if args.threads:
        parts.append(f"--threads {args.threads}")
    if args.tile:  # the default is each model's own tile, which its rows record
        parts.append(f"--tile {args.tile}")
    if args.json:
        parts.append(f"--json {args.json}")
    return " ".join(parts)


HEADER = (f"{'MODEL':16} {'DEVICE':6} {'MP':>6} {'MP/s':>7} {'median s':>9} "
          f"{'peak MB':>8} {'+image MB':>9}")


def format_row(r: dict[str, Any]) -> str:
    """One table line; a failed case shows its error instead of figures."""
    head = f"{r['model'][:16]:16} {r['device']:6} {r['megapixels']:>6.2f}"
    if "error" in r:
        return f"{head} failed: {r['error']}"
    peak, base = r.get("peak_rss_mb"), r.get("base_rss_mb")
    extra = "-" if peak is None or base is None else f"{peak - base:.0f}"
    peak_s = "-" if peak is None else f"{peak:.0f}"
    note = f"  (asked for {r['requested_device']}: {r['fallback']})" if r.get("fallback") else ""
    if (r.get("others_cores") or 0) >= BUSY_CORES:
        note += f"  (other processes kept {r['others_cores']:.1f} cores busy)"
    return (f"{head} {r['mp_per_s']:>7.2f} {r['median_s']:>9.2f} {peak_s:>8} {extra:>9}"
            f"{note}")


def format_table(result: dict[str, Any]) -> str:
    """The whole table with a line naming the machine."""
    m = result["machine"]
    lines = [f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads, "
             f"onnxruntime {m['onnxruntime']}", HEADER]
    lines += [format_row(r) for r in result["rows"]]
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    """``denoiser bench``: 0 when every case ran, 1 when some failed."""
    if args.case:
        return _child(args.case)
    result = run_bench(args)
    m = result["machine"]
    print(f"\n{m['cpu']}, {m['cores']} cores, {m['threads']} threads; sigma {BENCH_SIGMA:g}, "
          f"median of {args.repeat} after a warm-up; '+image MB' is the peak above the "
          "resident size after the session started")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if any("error" in r for r in result["rows"]) else 0
