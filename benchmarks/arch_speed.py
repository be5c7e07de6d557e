"""Seconds per megapixel of candidate U-Net layouts through onnxruntime, before training any.

    python benchmarks/arch_speed.py --layout 32-64-128-256/2-1-1-1 --layout 48-64-128-256/1-1-1-1

Speed does not depend on the weights, so each layout is built with random ones, exported as
the app's models are (``training.export.export_graph``) and run on one image of ``--size``
pixels square with the engine's session options, the layouts taking turns so that a change
in the machine's load touches them alike; the best of ``--repeat`` runs is kept. Choose a
design within ae-color's 1 MP/s budget with it; run it on an idle machine. ``--int8`` also
times each layout with every layer but the stem and tail quantised, as a network trained for
it (``training.qat``) ships; ``--float-scale 1`` keeps a full-resolution level (``u1``) in
float32 as well, which is where rounding costs such a network most of its quality.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from denoiser.bench import machine_info  # noqa: E402
from denoiser.engine import _session_options  # noqa: E402
from training.archs import build  # noqa: E402
from training.export import export_graph  # noqa: E402


def parse_layout(text: str) -> dict:
    """'32-64-128-256/2-1-1-1' -> {'widths': [32, 64, 128, 256], 'blocks': [2, 1, 1, 1]};
    a further part '16x2' adds a full-resolution head of 16 channels and two blocks, 'u1'
    sets the stem's pixel-unshuffle factor (2 unless given: the shipped models' stem), 'a2-1'
    adds two window-attention blocks to the finest level's encoder and decoder and one to the
    next, 'w8' sets their window and 'h2' their heads (training.archs.attention), 'n16-32-64-128'
    narrows the middle of each level's residual blocks to those widths."""
    widths, blocks, *extra = text.split("/")
    layout = {"widths": [int(w) for w in widths.split("-")],
              "blocks": [int(b) for b in blocks.split("-")], "unshuffle": 2}
    for part in extra:
        if part[0] in "uwh":
            layout[{"u": "unshuffle", "w": "window", "h": "heads"}[part[0]]] = int(part[1:])
        elif part.startswith("a"):
            layout["attention"] = [int(n) for n in part[1:].split("-")]
        elif part.startswith("n"):
            layout["hidden"] = [int(n) for n in part[1:].split("-")]
        else:
            width, n = part.split("x")
            layout.update(full_width=int(width), full_blocks=int(n))
    return layout


def session(layout: dict, channels: int, threads: int, path: Path, int8: bool = False,
            float_adds: bool = False, float_scale: float = 2.0) -> ort.InferenceSession:
    net = build("unet_ae", channels=channels, **layout).eval()
    export_graph(net, path)
    if int8:  # as a quantisation-aware model ships (training.qat); float_scale: see main
        path = quantised(path, channels, float_adds, float_scale)
    return ort.InferenceSession(str(path), _session_options(threads),
                                providers=["CPUExecutionProvider"])


def quantised(path: Path, channels: int, float_adds: bool = False,
              float_scale: float = 2.0) -> Path:
    """``path`` as ``training.quantize --float-scale F --float-ends [--float-adds]`` writes
    it; the calibration crops are random, which does not change the speed."""
    from training.quantize import quantize_static_int8

    rng = np.random.default_rng(0)
    feeds = [{"noisy": rng.random((1, channels, 64, 64), dtype=np.float32),
              "sigma": np.full((1, 1, 64, 64), 0.1, np.float32)} for _ in range(2)]
    out = path.with_suffix(".int8.onnx")
    quantize_static_int8(path, out, feeds, "minmax", True, False, float_scale,
                         float_ends=True, float_adds=float_adds)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layout", action="append", required=True, help="WIDTHS/BLOCKS, repeatable")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--int8", action="store_true",
                   help="also time each layout quantised to int8 in every layer but the ends")
    p.add_argument("--float-adds", action="store_true",
                   help="with --int8: the additions in float32 (training.quantize --float-adds)")
    p.add_argument("--float-scale", type=float, default=2.0, metavar="F",
                   help="with --int8: layers at F times the input's resolution or finer stay "
                        "float32 (training.quantize --float-scale; default 2, the ends only)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    noisy = rng.random((1, args.channels, args.size, args.size), dtype=np.float32)
    sigma = np.full((1, 1, args.size, args.size), 25 / 255, np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        tag8 = " int8" if args.float_scale == 2.0 else f" int8 fs{args.float_scale:g}"
        kinds = [("", False), (tag8, True)] if args.int8 else [("", False)]
        sessions = {t + tag: session(parse_layout(t), args.channels, args.threads,
                                     Path(tmp) / f"{i}{tag.strip().replace(' ', '-')}.onnx",
                                     int8, args.float_adds, args.float_scale)
                    for i, t in enumerate(args.layout) for tag, int8 in kinds}
        names = [i.name for i in next(iter(sessions.values())).get_inputs()]
        feeds = dict(zip(names, (noisy, sigma)))
        best = dict.fromkeys(sessions, float("inf"))
        for _ in range(args.repeat + 1):  # the first round warms up and counts too
            for text, sess in sessions.items():
                start = time.perf_counter()
                sess.run(None, feeds)
                best[text] = min(best[text], time.perf_counter() - start)
    mp = args.size**2 / 1e6
    rows = [{"layout": t, "sec_per_mp": round(s / mp, 3), "mp_per_s": round(mp / s, 2)}
            for t, s in best.items()]
    for r in rows:
        print(f"{r['layout']:<28} {r['sec_per_mp']:.3f} s/MP  {r['mp_per_s']:.2f} MP/s")
    print(machine_info())
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "machine": machine_info(),
                                         "command": " ".join(sys.argv)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
