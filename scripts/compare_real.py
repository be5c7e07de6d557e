"""Lay out real noisy photos denoised by every installed model in one comparison picture.

    python scripts/compare_real.py --data ../shared/datasets/real/RNI6 --out docs/real-noise.png

Each row is one photo: a crop at 1:1 (so the noise is visible as it is) of the original and
of each model's output with the app's Auto strength, as a user would get it. There is no
clean reference for real noise, so the picture is for looking at, not for a score. Auto reads
the level the way each model needs it (``noise_type`` in its metadata: white Gaussian noise or
camera noise), so each photo's row names the level of each kind, as printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from denoiser.engine import get_engine  # noqa: E402
from denoiser.imageio import read_image  # noqa: E402
from denoiser.models import discover_models  # noqa: E402
from denoiser.noise import estimate_sigma  # noqa: E402

LABEL_H = 22


def centre_crop(a: np.ndarray, size: int) -> np.ndarray:
    h, w = a.shape[:2]
    ch, cw = min(size, h), min(size, w)
    y, x = (h - ch) // 2, (w - cw) // 2
    return a[y : y + ch, x : x + cw]


def to_rgb8(a: np.ndarray) -> Image.Image:
    a = np.clip(a, 0, 1)
    a = np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a
    return Image.fromarray((a * 255 + 0.5).astype(np.uint8), "RGB")


def auto_levels(pixels: np.ndarray, models) -> dict[str, float]:
    """The Auto level (0-255) of each noise type among ``models``, as the engine reads it."""
    kinds = sorted({m.noise_type if m.noise_type == "camera" else "gaussian" for m in models})
    return {k: float(estimate_sigma(pixels, noise_type=k)) for k in kinds}


def row_images(path: Path, models, crop: int, threads: int) -> tuple[list[np.ndarray], dict]:
    """The original crop and every model's output on the whole photo, cropped alike."""
    pixels = read_image(path).pixels
    outs = [centre_crop(pixels, crop)]
    for m in models:
        out = get_engine(m, device="cpu", threads=threads).denoise(pixels, None)
        outs.append(centre_crop(out, crop))
    return outs, auto_levels(pixels, models)


def compose(rows: list[tuple[str, list[np.ndarray]]], headers: list[str], crop: int) -> Image.Image:
    font = ImageFont.load_default(size=14)
    cols = len(headers)
    sheet = Image.new("RGB", (cols * (crop + 4), LABEL_H + len(rows) * (crop + LABEL_H)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, head in enumerate(headers):
        draw.text((c * (crop + 4) + 4, 3), head, fill="black", font=font)
    for r, (caption, tiles) in enumerate(rows):
        y = LABEL_H + r * (crop + LABEL_H)
        draw.text((4, y + 3), caption, fill="black", font=font)
        for c, tile in enumerate(tiles):
            sheet.paste(to_rgb8(tile), (c * (crop + 4), y + LABEL_H))
    return sheet


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="folder of real noisy photos")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "real-noise.png")
    p.add_argument("--crop", type=int, default=200, help="side of the 1:1 crop in pixels")
    p.add_argument("--models", nargs="*", help="model names (default: every installed model)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    models = [m for m in discover_models() if not args.models or m.name in args.models]
    rows = []
    for path in sorted(args.data.iterdir()):
        if path.suffix.lower() not in {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}:
            continue
        tiles, levels = row_images(path, models, args.crop, args.threads)
        said = ", ".join(f"{kind} {level:.1f}" for kind, level in levels.items())
        print(f"{path.name}: Auto level {said}")
        rows.append((f"{path.stem}  (Auto level: {said})", tiles))
    sheet = compose(rows, ["original"] + [m.name for m in models], args.crop)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width} x {sheet.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
