"""Peak memory and time of the CLI's denoise path on synthetic JPEGs of several sizes.

    python benchmarks/memory.py --mp 6 24 96 [--model PATH] [--tile 512] [--threads N]

For each size a fresh worker process writes a noisy synthetic JPEG to a temp folder,
then runs ``python -m denoiser denoise`` on it as its only child and reads that child's
peak RSS (getrusage RUSAGE_CHILDREN). Why a child of a worker: the JPEG's own creation
must not count, and each size must start from a fresh process. Without --model a small
conv model is built with onnx.helper (needs the ``onnx`` dev dependency), so this runs
before the trained models exist. Unix only (resource module).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build_conv_model(path: Path, width: int = 8) -> Path:
    """A 3-layer conv net under the model contract (noisy + sigma in, residual out)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def conv_w(cout: int, cin: int) -> np.ndarray:
        return (rng.standard_normal((cout, cin, 3, 3)) * 0.05).astype(np.float32)

    inits = [numpy_helper.from_array(conv_w(width, 4), "w0"),
             numpy_helper.from_array(conv_w(width, width), "w1"),
             numpy_helper.from_array(conv_w(3, width), "w2")]
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    nodes = [helper.make_node("Concat", ["noisy", "sigma"], ["x"], axis=1),
             helper.make_node("Conv", ["x", "w0"], ["c0"], **conv),
             helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Conv", ["r0", "w1"], ["c1"], **conv),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["res"], **conv),
             helper.make_node("Sub", ["noisy", "res"], ["denoised"])]

    def io(name: str, c: int):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", c, "H", "W"])

    graph = helper.make_graph(nodes, "bench", [io("noisy", 3), io("sigma", 1)],
                              [io("denoised", 3)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in {"name": "bench-conv", "family": "ae", "channels": "3", "multiple": "8"}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


def write_jpeg(path: Path, megapixels: float) -> tuple[int, int]:
    """A 3:2 noisy gradient JPEG of about ``megapixels``, built strip by strip."""
    from PIL import Image

    w = int(math.sqrt(megapixels * 1e6 * 1.5))
    h = int(megapixels * 1e6 / w)
    img = Image.new("RGB", (w, h))
    rng = np.random.default_rng(0)
    x = np.linspace(40, 215, w, dtype=np.float32)
    for y0 in range(0, h, 512):
        rows = min(512, h - y0)
        base = np.broadcast_to(x[None, :, None], (rows, w, 3)) + (y0 / h) * 30
        strip = base + rng.normal(0, 15, (rows, w, 3)).astype(np.float32)
        img.paste(Image.fromarray(np.clip(strip, 0, 255).astype(np.uint8)), (0, y0))
    img.save(path, quality=90)
    return w, h


def peak_children_mb() -> float:
    """Peak RSS of the waited-for children of this process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024


def worker(args) -> None:
    """One size: make the JPEG, run the CLI as the only child, print a JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "synthetic.jpg"
        w, h = write_jpeg(src, args.mp[0])
        cmd = [sys.executable, "-m", "denoiser", "denoise", str(src), "--model", args.model,
               "--tile", str(args.tile), "--sigma", args.sigma, "--quiet", "--device", "cpu"]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        start = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        seconds = time.perf_counter() - start
    print(json.dumps({"mp": args.mp[0], "width": w, "height": h, "rc": rc,
                      "peak_mb": peak_children_mb(), "seconds": seconds}))


def run_size(mp: float, model: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--mp", str(mp), "--model", str(model),
           "--tile", str(args.tile), "--sigma", args.sigma]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = [f"{'MP':>5} {'size':>11} {'peak RSS MB':>12} {'image f32 MB':>13} {'seconds':>8} rc",
             "-" * 56]
    for r in rows:
        f32 = r["width"] * r["height"] * 3 * 4 / 2**20
        lines.append(f"{r['mp']:>5g} {r['width']:>5}x{r['height']:<5} {r['peak_mb']:>12.0f} "
                     f"{f32:>13.0f} {r['seconds']:>8.1f} {r['rc']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mp", type=float, nargs="+", default=[6.0, 24.0], help="megapixels")
    p.add_argument("--model", default=None, help=".onnx model (default: a small conv model)")
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--sigma", default="auto", help="noise level or 'auto' (default)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else build_conv_model(Path(tmp) / "bench.onnx")
        print(f"model {model.name}, tile {args.tile}, threads {args.threads or os.cpu_count()}, "
              f"sigma {args.sigma}", flush=True)
        rows = []
        for mp in args.mp:
            rows.append(run_size(mp, model, args))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
