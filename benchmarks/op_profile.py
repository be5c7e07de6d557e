"""Milliseconds per operator type of one tile through onnxruntime, at several thread counts.

    python benchmarks/op_profile.py --model resources/models/ae-color.onnx --threads 1 2

Says where a model's time goes and which of its operators onnxruntime spreads over threads
well: an operator whose time does not halve from one thread to two leaves a core idle, which
is what running two tiles at once (``denoiser.engine.pays_side_by_side``) makes use of. Each
thread count gets a session with the engine's options and onnxruntime's profiler; the kernel
times of ``--repeat`` runs after a warm-up are averaged. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from denoiser.bench import machine_info  # noqa: E402
from denoiser.engine import _session_options  # noqa: E402
from denoiser.models import load_model_info  # noqa: E402


def op_times(model: Path, feeds: dict[str, np.ndarray], threads: int, repeat: int,
             scratch: Path) -> dict[str, float]:
    """Mean milliseconds per run spent in each operator type, busiest first."""
    opts = _session_options(threads)
    opts.enable_profiling = True
    opts.profile_file_prefix = str(scratch / f"profile-{threads}")
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    for _ in range(repeat + 1):
        sess.run(None, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    first_end = runs[0]["ts"] + runs[0]["dur"]  # the first run warms up: not counted
    total: Counter[str] = Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > first_end:
            total[e["args"]["op_name"]] += e["dur"] / 1000 / repeat
    return {op: round(ms, 1) for op, ms in total.most_common()}


def feeds_for(model: Path, size: int) -> dict[str, np.ndarray]:
    """A noisy random tile and a sigma-25 map, for whichever of them the model takes."""
    info = load_model_info(model)
    rng = np.random.default_rng(0)
    feeds = {"noisy": rng.random((1, info.channels, size, size), dtype=np.float32)}
    if not info.blind:
        feeds["sigma"] = np.full((1, 1, size, size), 25 / 255, np.float32)
    if info.stochastic:
        feeds["temperature"] = np.zeros(1, np.float32)
    return feeds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--size", type=int, default=1024, help="tile side in pixels")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    feeds = feeds_for(args.model, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        rows = {t: op_times(args.model, feeds, t, args.repeat, Path(tmp)) for t in args.threads}
    ops = list(rows[args.threads[0]])
    print(f"{'operator':<24}" + "".join(f"{t:>8} thr" for t in args.threads) + "  (ms)")
    for op in ops + ["total"]:
        cells = [sum(r.values()) if op == "total" else r.get(op, 0.0) for r in rows.values()]
        print(f"{op:<24}" + "".join(f"{c:>12.1f}" for c in cells))
    print(machine_info())
    if args.json:
        args.json.write_text(json.dumps(
            {"model": str(args.model), "size": args.size, "ms_by_threads": rows,
             "machine": machine_info(),
             "command": " ".join(["python benchmarks/op_profile.py", *argv])}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
