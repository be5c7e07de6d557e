"""Draw the shipped sample picture (a synthetic scene, so it carries no third-party rights) and
add Gaussian noise to it: ``python scripts/make_sample.py`` writes resources/samples/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).resolve().parent.parent / "resources" / "samples"


def scene(w: int = 768, h: int = 512) -> Image.Image:
    y = np.linspace(0, 1, h)[:, None, None]
    sky = (1 - y) * np.array([70, 130, 200]) + y * np.array([235, 200, 160])
    img = Image.fromarray(np.broadcast_to(sky, (h, w, 3)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse((560, 60, 660, 160), fill=(255, 230, 140))
    d.polygon([(0, 330), (180, 220), (380, 320), (560, 240), (768, 330), (768, 512), (0, 512)],
              fill=(70, 120, 60))
    d.polygon([(0, 420), (300, 360), (768, 430), (768, 512), (0, 512)], fill=(110, 150, 70))
    d.rectangle((120, 300, 260, 400), fill=(190, 80, 60))
    d.polygon([(110, 300), (190, 240), (270, 300)], fill=(90, 50, 40))
    d.rectangle((170, 340, 205, 400), fill=(60, 40, 30))
    d.rectangle((215, 320, 245, 345), fill=(200, 225, 250))
    for i in range(12):  # a fence: fine, regular detail that must survive denoising
        x = 360 + i * 22
        d.rectangle((x, 380, x + 6, 440), fill=(235, 235, 225))
    d.rectangle((350, 395, 620, 401), fill=(235, 235, 225))
    font = ImageFont.load_default(size=40)
    d.text((420, 450), "denoiser", fill=(250, 250, 250), font=font)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clean = np.asarray(scene(), dtype=np.float32) / 255
    noise = np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    noisy = np.round(np.clip(clean + noise * 25 / 255, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(noisy).save(OUT / "noisy-sample.png")
    Image.fromarray(np.round(clean * 255).astype(np.uint8)).save(OUT / "clean-sample.png")


if __name__ == "__main__":
    main()
