"""Build a small test set of colour photographs from outside BSD, for the generalisation check.

CBSD68 shares its camera, era and muted palette with the training set (CBSD432). The
photographs that scikit-image ships in its wheel (no download) are different: saturated
paint and fabric, a studio portrait, fine textures. This script copies the colour ones into a
folder as RGB PNG, so that ``training.evaluate`` can score a model beside CBM3D on them:

    python benchmarks/colour_photos.py --out build/colour-photos
    python -m training.evaluate --model resources/models/ae-color.onnx \\
        --data build/colour-photos --sigmas 15 25 50 --peers bm3d --threads 1

The images are not part of the project; the folder is rebuilt from the installed package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

# scikit-image's colour photographs (its synthetic, microscopy and astronomy images are left out)
PHOTOS = {
    "astronaut.png": "portrait in a saturated spacesuit with flag, 512 x 512",
    "chelsea.png": "cat: fur texture, 451 x 300",
    "coffee.png": "cup on a saturated red-and-white saucer, 600 x 400",
    "motorcycle_left.png": "Middlebury stereo motorcycle: saturated paint, fine parts, 741 x 500",
    "rocket.jpg": "rocket on its pad in daylight, 640 x 427",
}


def source_folder() -> Path:
    import skimage

    return Path(skimage.__file__).resolve().parent / "data"


def build(out: Path) -> list[Path]:
    """Write the photos as 8-bit RGB PNG into ``out`` (sorted names fix the noise seeds)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(PHOTOS):
        with Image.open(source_folder() / name) as im:
            rgb = np.asarray(im.convert("RGB"))
        path = out / (Path(name).stem + ".png")
        Image.fromarray(rgb).save(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/colour-photos"))
    args = p.parse_args(argv)
    for name, path in zip(sorted(PHOTOS), build(args.out)):
        print(f"{path}  {PHOTOS[name]}")
    print(f"{len(PHOTOS)} photographs in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
