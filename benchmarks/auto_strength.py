"""Auto strength for a Gaussian-noise model on correlated noise: what it picks, what is best.

Grey scans and resized or JPEG'd photos carry noise correlated over a few pixels. A model
trained on white Gaussian noise takes a sigma; this measures which sigma serves it best on
such noise, against what Auto gives it.

Clean grey images (the first ``--images`` of ``--data``) get noise of per-pixel std ``s``:
white, and white saved as JPEG at quality 50; white blurred by a 3 x 3 or 5 x 5 binomial
kernel and rescaled to std ``s`` (demosaicing, resampling), the 3 x 3 kind also saved as
JPEG at quality 75. The model denoises
each at sigma = m * s for m on a grid; the table gives, per kind and strength, the mean
PSNR at the best m (and that m), at the white-noise estimate (what Auto gave a Gaussian
model before ``denoiser.strength``), at the camera-noise estimate, and at Auto
(``denoiser.strength.auto_sigma``), with the mean of each estimate.

    python benchmarks/auto_strength.py --data ../shared/datasets/test/Set12 \
        --out docs/auto-strength.md
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from denoiser.engine import Engine
from denoiser.metrics import psnr
from denoiser.models import find_model
from denoiser.noise import estimate_sigma
from denoiser.strength import auto_sigma

MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
KINDS = ("white", "white+jpeg50", "blur3", "blur5", "blur3+jpeg75")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean images")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--model", default="ae-gray")
    parser.add_argument("--strengths", type=float, nargs="+", default=[10.0, 20.0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, help="also write the page here (markdown)")
    return parser.parse_args(argv)


def binomial(size: int) -> np.ndarray:
    row = np.array([1.0])
    for _ in range(size - 1):
        row = np.convolve(row, [1.0, 1.0])
    kernel = np.outer(row, row)
    return kernel / kernel.sum()


def correlated(shape: tuple[int, int], size: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-std noise: white noise blurred by a ``size`` x ``size`` binomial kernel."""
    pad = size // 2
    white = rng.standard_normal((shape[0] + 2 * pad, shape[1] + 2 * pad))
    kernel = binomial(size)
    out = np.zeros(shape)
    for dy in range(size):
        for dx in range(size):
            out += kernel[dy, dx] * white[dy : dy + shape[0], dx : dx + shape[1]]
    return out / np.sqrt((kernel**2).sum())


def noisy_version(clean: np.ndarray, kind: str, s: float, seed: int) -> np.ndarray:
    """``clean`` (H x W, 0..1) with noise of ``kind`` and per-pixel std ``s`` (0-255 scale)."""
    rng = np.random.default_rng(seed)
    size = 1 if kind.startswith("white") else int(kind[4])
    noise = rng.standard_normal(clean.shape) if size == 1 else correlated(clean.shape, size, rng)
    noisy = clean + noise * s / 255.0
    if "+jpeg" in kind:
        buf = io.BytesIO()
        Image.fromarray((np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)).save(
            buf, "JPEG", quality=int(kind.split("+jpeg")[1]))
        noisy = np.asarray(Image.open(buf), dtype=np.float32) / 255.0
    return noisy.astype(np.float32)


def load_grey(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def case(engine: Engine, clean: np.ndarray, noisy: np.ndarray, s: float) -> dict[str, float]:
    """PSNR per multiple of ``s``, and at both estimates (with the estimates)."""
    row: dict[str, float] = {}
    for m in MULTIPLES:
        row[f"m{m}"] = psnr(clean, engine.denoise(noisy, m * s))
    estimates = {kind: estimate_sigma(noisy, noise_type=kind) for kind in ("gaussian", "camera")}
    estimates["auto"] = auto_sigma(noisy, engine.model.noise_type)
    for kind, est in estimates.items():
        row[f"est_{kind}"] = est
        row[f"at_{kind}"] = psnr(clean, engine.denoise(noisy, est))
    return row


def table(engine: Engine, cleans: list[np.ndarray], strengths: list[float]) -> list[str]:
    """The markdown table, a row per noise kind and strength (printed as each is done)."""
    lines = ["| noise | s | noisy | best m | at best | white est. | at it | camera est. | "
             "at it | Auto | at it |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for kind in KINDS:
        for s in strengths:
            rows, noisy_psnr = [], []
            for i, clean in enumerate(cleans):
                noisy = noisy_version(clean, kind, s, seed=i)
                noisy_psnr.append(psnr(clean, noisy))
                rows.append(case(engine, clean, noisy, s))
            mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            best = max(MULTIPLES, key=lambda m: mean[f"m{m}"])
            cells = [f"{np.mean(noisy_psnr):.2f}", f"{best:g}", f"{mean[f'm{best}']:.2f}"]
            for est in ("gaussian", "camera", "auto"):
                cells += [f"{mean[f'est_{est}']:.2f}", f"{mean[f'at_{est}']:.2f}"]
            lines.append(f"| {kind} | {s:g} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = sorted(p for p in args.data.iterdir() if p.suffix.lower() in {".png", ".jpg", ".bmp"})
    cleans = [load_grey(p) for p in files[: args.images]]
    engine = Engine(find_model(args.model), "cpu", threads=args.threads)
    title = (f"{args.model} on the first {len(cleans)} images of {args.data.name}; "
             "PSNR in dB, sigma and estimates on the 0-255 scale")
    print(title)
    lines = table(engine, cleans, args.strengths)
    if args.out:
        command = "python benchmarks/auto_strength.py " + " ".join(argv or sys.argv[1:])
        intro = "\n\n".join(__doc__.split("\n\n")[1:3])
        page = ["# Auto strength on correlated noise", "", intro, "", f"`{command}`", "",
                title + ":", "", *lines, ""]
        args.out.write_text("\n".join(page))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
