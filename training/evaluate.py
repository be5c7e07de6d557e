"""Evaluate a model, and optionally the classic peers, under the protocol of the test sets.

``python -m training.evaluate --model resources/models/ae-color.onnx
--data ../shared/datasets/test/CBSD68 --sigmas 15 25 50 --peers bm3d nlm``

Protocol: noisy = clean + N(0, sigma/255) in float, unclipped, seeded by the image's index
in sorted file order; PSNR and SSIM on outputs clipped and rounded to 8 bits.

``--camera low mid high [--jpeg 75]`` adds camera-like noise (training.noise_synth with fixed
parameters, also seeded by index): models get the true per-pixel noise map, the peers its
root-mean-square level, so both are told the truth in the form they take.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from denoiser.metrics import psnr, ssim
from denoiser.noise import add_gaussian_noise
from training.colour_error import colour_error, detail_kept, kept_by_colour, mse_by_colour
from training.data import list_images, load_image
from training.detail import block_stats, psnr_by_detail
from training.peers import PEERS

Denoise = Callable[[np.ndarray, float], np.ndarray]


def load_clean(data: Path, channels: int, limit: int | None = None) -> list[np.ndarray]:
    """The clean test images as float32 H x W x C in 0..1, in sorted file order."""
    paths = list_images(data)[:limit]
    return [load_image(p, channels).astype(np.float32) / 255.0 for p in paths]


def model_denoiser(path: Path, threads: int) -> tuple[Denoise, int, object]:
    """(denoise function, channels, torch model or None) for an ONNX file or a checkpoint."""
    if path.suffix == ".onnx":
        from denoiser.engine import Engine
        from denoiser.models import load_model_info

        engine = Engine(load_model_info(path), device="cpu", threads=threads)
        return (lambda x, s: engine.denoise(x, s, tile=1024)), engine.model.channels, None
    from training.torch_infer import TorchDenoiser

    net = TorchDenoiser.from_checkpoint(path, threads)
    return net.denoise, net.channels, net


def noisy_version(clean: np.ndarray, index: int, setting: str) -> tuple[np.ndarray, object]:
    """(noisy, level) for one setting: a Gaussian sigma ("25") or a camera one ("camera-mid")."""
    if setting.startswith("camera-"):
        from training.camera_eval import camera_noisy

        return camera_noisy(clean, index, setting)
    sigma = float(setting)
    return add_gaussian_noise(clean, sigma, seed=index), sigma


def scalar_level(fn: Denoise) -> Denoise:
    """Give a method that takes one noise level the RMS of a per-pixel map."""
    return lambda x, s: fn(x, float(np.sqrt(np.mean(np.square(s)))) if np.ndim(s) else s)


def run_method(fn: Denoise, cleans: Sequence[np.ndarray], setting: str) -> dict[str, float]:
    """Mean PSNR, SSIM and seconds per megapixel of one method at one noise setting, and the
    PSNR of each image in sorted file order and of each quarter of the blocks by detail."""
    p, s, blocks, colour, kept, seconds, mp = [], [], [], [], [], 0.0, 0.0
    for i, clean in enumerate(cleans):
        noisy, level = noisy_version(clean, i, setting)
        t = time.perf_counter()
        out = fn(noisy, level)
        seconds += time.perf_counter() - t
        mp += clean.shape[0] * clean.shape[1] / 1e6
        p.append(psnr(clean, out))
        s.append(ssim(clean, out))
        blocks.append(block_stats(clean, out))
        if clean.shape[2] == 3:
            colour.append(colour_error(clean, out))
            kept.append(detail_kept(clean, out))
    # per image too: a mean can hide that a method loses on every image, or on one odd one
    r = {"psnr": float(np.mean(p)), "ssim": float(np.mean(s)), "sec_per_mp": seconds / mp,
         "images": len(cleans), "psnr_per_image": [round(float(v), 3) for v in p],
         "psnr_by_detail": psnr_by_detail(blocks)}
    if colour:
        r["mse_by_colour"] = mse_by_colour(colour)
        r["kept_by_colour"] = kept_by_colour(kept)
    return r


def evaluate(model: Path | None, data: Path, sigmas: Sequence[float], peers: Sequence[str] = (),
             limit: int | None = None, peer_limit: int | None = None, threads: int = 2,
             vae_samples: int = 0, camera: Sequence[str] = ()) -> dict:
    """All figures of one call, as a JSON-ready dict keyed by method and noise setting."""
    label = data.name if limit is None else f"{data.name} (first {limit})"
    settings = [f"{s:g}" for s in sigmas] + [f"camera-{c}" for c in camera]
    protocol = "gaussian-seeded-by-index"
    if camera:
        label += " camera noise" if not sigmas else ""
        protocol += ", camera-noise-seeded-by-index"
    results: dict = {"data": label, "protocol": protocol, "methods": {}}
    channels, net = 3, None
    methods: dict[str, tuple[Denoise, int | None]] = {}
    if model is not None:
        fn, channels, net = model_denoiser(model, threads)
        methods[model.stem] = (fn, limit)
    else:
        channels = 3 if "C" in data.name.upper()[:1] else 1
    for name in peers:
        methods[name] = (scalar_level(PEERS[name](channels)), peer_limit or limit)
    cache: dict[int | None, list[np.ndarray]] = {}
    for name, (fn, lim) in methods.items():
        cleans = cache.setdefault(lim, load_clean(data, channels, lim))
        for setting in settings:
            r = run_method(fn, cleans, setting)
            results["methods"].setdefault(name, {})[setting] = r
            print(f"{name:>14} {setting:>16}: {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f}  "
                  f"{r['sec_per_mp']:.2f} s/MP  ({r['images']} images)", file=sys.stderr)
    if vae_samples and model is not None:
        from training.uncertainty import evaluate_spread

        cleans = cache.setdefault(limit, load_clean(data, channels, limit))
        results["vae"] = evaluate_spread(model, cleans, 25.0, vae_samples, net=net, threads=threads)
    return results


def setting_order(setting: str) -> tuple:
    """Gaussian levels in numeric order, then the camera settings in their given order."""
    gaussian = setting.replace(".", "", 1).isdigit()
    return (not gaussian, float(setting) if gaussian else 0.0)


def setting_label(setting: str) -> str:
    return f"sigma {setting}" if setting_order(setting)[0] is False else setting


def print_by_detail(results: dict) -> None:
    """PSNR of each quarter of the 16x16 blocks, flattest first (training/detail.py)."""
    print("PSNR (dB) by detail: quarters of the blocks, flat to detailed")
    for name, by_sigma in results["methods"].items():
        for setting in sorted(by_sigma, key=setting_order):
            d = by_sigma[setting]["psnr_by_detail"]
            cells = " ".join(f"{v:7.2f}" for v in d["psnr"])
            print(f"{name:<14}{setting_label(setting):>16}  {cells}")


def print_by_colour(results: dict) -> None:
    """Mean squared error (0..255) of each colour part, and the share of the clean detail
    each part keeps (training/colour_error.py)."""
    tables = (("mse_by_colour", "mse", "MSE", 2), ("kept_by_colour", "kept", "Detail kept", 3))
    for key, field, title, digits in tables:
        rows = [(name, st, r[key]) for name, by in results["methods"].items()
                for st, r in sorted(by.items(), key=lambda kv: setting_order(kv[0]))
                if key in r]
        if rows:
            print(f"{title} by colour part: " + ", ".join(rows[0][2]["parts"]))
        for name, setting, d in rows:
            cells = " ".join(f"{v:7.{digits}f}" for v in d[field])
            print(f"{name:<14}{setting_label(setting):>16}  {cells}")


def print_table(results: dict, by_detail: bool = False) -> None:
    seen = dict.fromkeys(s for m in results["methods"].values() for s in m)
    sigmas = sorted(seen, key=setting_order)
    print(f"{results['data']}  PSNR (dB) / SSIM / s per MP")
    print(f"{'method':<14}" + "".join(f"{setting_label(s):>26}" for s in sigmas))
    for name, by_sigma in results["methods"].items():
        cells = [f"{r['psnr']:.2f} / {r['ssim']:.4f} / {r['sec_per_mp']:.2f}"
                 for r in (by_sigma[s] for s in sigmas)]
        print(f"{name:<14}" + "".join(f"{c:>26}" for c in cells))
    if by_detail:
        print_by_detail(results)
        print_by_colour(results)
    if "vae" in results:
        print("VAE: " + ", ".join(f"{k} {v:.4g}" for k, v in results["vae"].items()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Evaluate denoisers under the test-set protocol.")
    p.add_argument("--model", type=Path, help="ONNX file or training checkpoint (.pt)")
    p.add_argument("--data", type=Path, required=True, help="folder of clean test images")
    p.add_argument("--sigmas", type=float, nargs="*", default=[15, 25, 50])
    p.add_argument("--camera", nargs="*", default=[], metavar="LEVEL[+jpegQ]",
                   help="camera-noise settings, e.g. low mid high high+jpeg75")
    p.add_argument("--peers", nargs="*", default=[], choices=sorted(PEERS))
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--peer-limit", type=int, help="run the peers on the first N images only")
    p.add_argument("--vae-samples", type=int, default=0, help="VAE: samples for spread figures")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--by-detail", action="store_true",
                   help="also print PSNR by local detail (quarters of 16x16 blocks) and, "
                        "for colour, the error by colour part")
    args = p.parse_args(argv)
    results = evaluate(args.model, args.data, args.sigmas, args.peers, args.limit,
                       args.peer_limit, args.threads, args.vae_samples, args.camera)
    args_used = argv if argv is not None else sys.argv[1:]
    results["command"] = "python -m training.evaluate " + " ".join(args_used)
    print_table(results, args.by_detail)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
