"""Our models beside the classic and neural peers: speed and quality, one run, same threads.

    python benchmarks/peers.py --data ../shared/datasets/test/CBSD68 [--crop 256] [--threads 2]
        [--models resources/models/*.onnx] [--limit N] [--slow-limit N] [--json peers.json]

Every method sees the same clean images with the evaluation protocol's noise
(``add_gaussian_noise(clean, sigma, seed=index)``, sigma 25) and PSNR from denoiser.metrics:

- ours: each ONNX model through the engine (CPU, default tile);
- nlm: OpenCV fast non-local means (training.peers);
- bm3d: BM3D / CBM3D (training.peers) on a centre crop of ``--crop`` pixels, because it is
  slow; our first model is also run on those crops so that its PSNR there can be compared;
- dncnn-size: a DnCNN-sized network in torch (17 conv layers of 64 channels, 3x3, ReLU, BN
  folded away) with RANDOM weights. It shows what a network of that size costs; its PSNR
  means nothing, so none is reported.

Seconds per megapixel are summed over images after one warm-up call per method; the ratio
is to our reference model (``--reference``, default ae-color if measured, else the first).
``--slow-limit N`` runs the slow ones (CBM3D, the DnCNN-size net, and our model on the same
crops) on the first N images only, so that the whole table fits in a few minutes; each row
says how many images it saw. The machine's load from other processes during the run is
recorded (``others_cores``), as `denoiser bench` does.
"""

from __future__ import annotations

import os
import sys

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _cap_blas_threads(argv: list[str]) -> None:
    """BLAS reads its thread count when numpy loads, so --threads must be seen before that."""
    threads = "2"  # the --threads default
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif a.startswith("--threads="):
            threads = a.split("=", 1)[1]
    for var in _THREAD_VARS:
        os.environ[var] = threads


if __name__ == "__main__":
    _cap_blas_threads(sys.argv)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

from denoiser.bench import LoadMeter, machine_info  # noqa: E402
from denoiser.metrics import psnr  # noqa: E402
from denoiser.noise import add_gaussian_noise  # noqa: E402

Denoise = Callable[[np.ndarray, float], np.ndarray]
SIGMA = 25.0
DNCNN_NOTE = "random weights: timing only, PSNR not meaningful"


# ----------------------------------------------------------------------------- methods


def dncnn_size_net(channels: int, depth: int = 17, width: int = 64, threads: int = 2) -> Denoise:
    """A DnCNN-sized residual conv net in torch, random weights, BN folded into the convs.

    Why random weights: only its cost is measured, and a trained DnCNN is not shipped here.
    """
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(width, channels, 3, padding=1))
    net = nn.Sequential(*layers).eval()

    def run(noisy: np.ndarray, sigma: float) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(noisy.transpose(2, 0, 1)))[None]
            return (x - net(x))[0].numpy().transpose(1, 2, 0)

    return run


def onnx_method(path: Path, threads: int) -> tuple[str, int, Denoise]:
    """(name, channels, denoise) for one of our ONNX models through the engine on the CPU."""
    from denoiser.engine import Engine
    from denoiser.models import load_model_info

    engine = Engine(load_model_info(path), device="cpu", threads=threads)
    return engine.model.name, engine.model.channels, lambda x, s: engine.denoise(x, s)


def default_models() -> list[Path]:
    """The shipped models in resources/models (what the app would use)."""
    return sorted((ROOT / "resources" / "models").glob("*.onnx"))


# ----------------------------------------------------------------------------- images


def centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` part (or the whole image if it is smaller)."""
    h, w = img.shape[:2]
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return np.ascontiguousarray(img[y0:y0 + size, x0:x0 + size])


def load_cleans(data: Path, channels: int, limit: int | None) -> list[np.ndarray]:
    """Clean images in sorted file order (the order the protocol seeds noise by)."""
    from training.evaluate import load_clean

    return load_clean(data, channels, limit)


def measure(fn: Denoise, cleans: Sequence[np.ndarray], sigma: float,
            with_psnr: bool = True) -> dict:
    """Seconds per megapixel (after one warm-up call) and mean PSNR of one method."""
    fn(add_gaussian_noise(centre_crop(cleans[0], 64), sigma, seed=0), sigma)
    seconds, mp, scores, busy = 0.0, 0.0, [], []
    for i, clean in enumerate(cleans):
        noisy = add_gaussian_noise(clean, sigma, seed=i)
        with LoadMeter() as load:
            t = time.perf_counter()
            out = fn(noisy, sigma)
            seconds += time.perf_counter() - t
        busy.append(load.cores)
        mp += clean.shape[0] * clean.shape[1] / 1e6
        if with_psnr:
            scores.append(psnr(clean, out))
    return {"sec_per_mp": seconds / mp, "seconds": seconds, "megapixels": mp,
            "images": len(cleans), "psnr": float(np.mean(scores)) if scores else None,
            "others_cores": _mean_known(busy)}


def _mean_known(values: Sequence[float | None]) -> float | None:
    """Mean of the values that were measured (None where none was)."""
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


# ----------------------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict:
    """Every method on the same images; a JSON-ready dict with rows in table order."""
    from training.peers import PEERS

    cleans = load_cleans(args.data, args.channels, args.limit)
    slow = cleans[: args.slow_limit]
    crops = [centre_crop(c, args.crop) for c in slow]
    region_full = f"full images ({len(cleans)})"
    region_slow = f"full images ({len(slow)})"
    region_crop = f"centre {args.crop}x{args.crop} crops ({len(crops)})"
    rows, skipped = [], []
    ours = []
    for path in args.models if args.models is not None else default_models():
        name, channels, fn = onnx_method(Path(path), args.threads)
        if channels != args.channels:
            skipped.append(f"{name}: {channels}-channel model, images are {args.channels}-channel")
            continue
        ours.append((name, fn))
        rows.append({"method": name, "kind": "ours", "region": region_full,
                     **measure(fn, cleans, args.sigma)})
    if ours:
        name, fn = _reference(ours, args.reference)
        rows.append({"method": f"{name} (crops)", "kind": "ours", "region": region_crop,
                     **measure(fn, crops, args.sigma)})
    if "nlm" in args.methods:
        rows.append({"method": "opencv-nlm", "kind": "peer", "region": region_full,
                     **measure(PEERS["nlm"](args.channels), cleans, args.sigma)})
    if "bm3d" in args.methods:
        label = "cbm3d" if args.channels == 3 else "bm3d"
        rows.append({"method": label, "kind": "peer", "region": region_crop,
                     **measure(PEERS["bm3d"](args.channels), crops, args.sigma)})
    if "dncnn" in args.methods:
        net = dncnn_size_net(args.channels, args.dncnn_depth, args.dncnn_width, args.threads)
        rows.append({"method": f"dncnn-size ({args.dncnn_depth}x{args.dncnn_width}, torch)",
                     "kind": "timing-only", "region": region_slow, "note": DNCNN_NOTE,
                     **measure(net, slow, args.sigma, with_psnr=False)})
    ref = _reference(ours, args.reference)[0] if ours else None
    _add_ratios(rows, ref)
    return {"command": command_line(args), "machine": machine_info(args.threads),
            "data": str(args.data), "sigma": args.sigma, "channels": args.channels,
            "reference": ref, "skipped": skipped, "rows": rows}


def _reference(ours: list[tuple[str, Denoise]], wanted: str | None) -> tuple[str, Denoise]:
    """The model the ratios are taken to: the one asked for, else ae-color, else the first."""
    by_name = dict(ours)
    for name in (wanted, "ae-color"):
        if name in by_name:
            return name, by_name[name]
    if wanted:
        raise SystemExit(f"--reference {wanted} is not among the measured models "
                         f"({', '.join(by_name)})")
    return ours[0]


def _add_ratios(rows: list[dict], ref: str | None) -> None:
    """Each row's seconds per MP divided by the reference model's (above 1: slower than ours)."""
    base = next((r["sec_per_mp"] for r in rows if r["method"] == ref), None)
    for r in rows:
        r["ratio_to_ours"] = r["sec_per_mp"] / base if base else None


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces the figures, for docs built from the JSON."""
    parts = [f"python benchmarks/peers.py --data {args.data} --crop {args.crop} "
             f"--threads {args.threads}"]
    if args.models is not None:
        parts.append("--models " + " ".join(str(m) for m in args.models))
    if args.limit:
        parts.append(f"--limit {args.limit}")
    if args.slow_limit:
        parts.append(f"--slow-limit {args.slow_limit}")
    if args.channels != 3:
        parts.append(f"--channels {args.channels}")
    if sorted(args.methods) != sorted(METHODS):
        parts.append("--methods " + " ".join(args.methods))
    if (args.dncnn_depth, args.dncnn_width) != (17, 64):
        parts.append(f"--dncnn-depth {args.dncnn_depth} --dncnn-width {args.dncnn_width}")
    if args.json:
        parts.append(f"--json {args.json}")
    return " ".join(parts)


def format_table(result: dict) -> str:
    """Seconds per MP, ratio to our reference model and PSNR, one line per method."""
    lines = [f"{'method':34} {'s/MP':>8} {'x ours':>7} {'PSNR dB':>8}  region",
             "-" * 86]
    for r in result["rows"]:
        ratio = "-" if r["ratio_to_ours"] is None else f"{r['ratio_to_ours']:.2f}"
        score = "n/a" if r["psnr"] is None else f"{r['psnr']:.2f}"
        lines.append(f"{r['method'][:34]:34} {r['sec_per_mp']:>8.3f} {ratio:>7} {score:>8}  "
                     f"{r['region']}")
    m = result["machine"]
    lines.append(f"sigma {result['sigma']:g}, {m['threads']} threads on {m['cpu']}; "
                 f"ratio to {result['reference']}; dncnn-size: {DNCNN_NOTE}")
    lines += [f"skipped {s}" for s in result["skipped"]]
    return "\n".join(lines)


METHODS = ("nlm", "bm3d", "dncnn")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder of clean test images")
    p.add_argument("--models", type=Path, nargs="*", default=None,
                   help="our .onnx models (default: resources/models/*.onnx)")
    p.add_argument("--crop", type=int, default=256, help="BM3D crop side in pixels")
    p.add_argument("--threads", type=int, default=2, help="threads for every method")
    p.add_argument("--sigma", type=float, default=SIGMA, help=argparse.SUPPRESS)
    p.add_argument("--channels", type=int, choices=(1, 3), default=3)
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--slow-limit", type=int,
                   help="CBM3D, the DnCNN-size net and our crops on the first N images only")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                   help="which peers to run (default: all)")
    p.add_argument("--reference", help="our model the ratios are taken to")
    p.add_argument("--dncnn-depth", type=int, default=17, help=argparse.SUPPRESS)
    p.add_argument("--dncnn-width", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import cv2

    cv2.setNumThreads(args.threads)
    result = run(args)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
