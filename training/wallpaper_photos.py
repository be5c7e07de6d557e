"""Build a training folder of full-colour photographs from Debian's desktop-wallpaper packages.

Why: CBSD432's JPEGs store colour at half resolution (4:2:0), so a model trained on them
learns that colour has no fine detail and erases it on photographs that have it, where
CBM3D keeps it. These wallpapers are large photographs under free licences. Each is reduced
at least twice (so a 4:2:0 JPEG's colour, and its noise and compression, fall below a pixel)
to at most 1280 pixels on its long side, then cut into overlapping tiles of BSD's size, so
that in the sampler each tile weighs as much as one BSD picture:

    python -m training.wallpaper_photos --out build/wallpaper-photos

The packages come from Debian's archive through ``apt-get download``. The photographs are
not part of the project; the folder is rebuilt from the packages.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from training.data import rescaled

LONG_SIDE = 1280  # pixels on the long side after reduction, at most
TILE = (480, 320)  # BSD's picture size, landscape (width, height)
DEFAULT_OUT = Path("build/wallpaper-photos")  # the name recipes give it

# The photographs among each package's pictures (drawings, renders and abstracts left out)
PHOTOS = {
    "lomiri-wallpapers-16.04": [
        "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg",
        "usr/share/backgrounds/Dragonfly_by_Bolly.jpg",
        "usr/share/backgrounds/Picture_0B_by_freespace.jpg",  # fig on a red plate
        "usr/share/backgrounds/Picture_1A_by_freespace.jpg",  # paint brushes
        "usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg",
        "usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
        "usr/share/backgrounds/free_by_Peter_Nerlich.jpg",
        "usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg",
        "usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg",
        "usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg",
        "usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg",
    ],
    "lomiri-wallpapers-20.04": ["usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"],
    "mate-backgrounds": [
        f"usr/share/backgrounds/mate/nature/{name}.jpg"
        for name in ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow",
                     "LadyBird", "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower")
    ],
    "plasma-workspace-wallpapers": [
        f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg"
        for name in ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
                     "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")
    ],
}


def fetch(packages: list[str], root: Path) -> None:
    """Download ``packages`` from Debian's archive and unpack their files below ``root``."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *packages], cwd=tmp, check=True)
        for deb in sorted(Path(tmp).glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)


def reduced(im: Image.Image) -> np.ndarray:
    """The picture at half its size or less, at most ``LONG_SIDE`` on its long side."""
    return rescaled(np.asarray(im.convert("RGB")), min(0.5, LONG_SIDE / max(im.size)))


def tiles(arr: np.ndarray, size: tuple[int, int] = TILE) -> list[np.ndarray]:
    """Overlapping tiles of ``size`` (turned for a portrait picture) that cover ``arr``."""
    h, w = arr.shape[:2]
    tw, th = size if w >= h else size[::-1]
    if h < th or w < tw:
        return [arr]
    ys = np.linspace(0, h - th, -(-h // th)).round().astype(int)
    xs = np.linspace(0, w - tw, -(-w // tw)).round().astype(int)
    return [arr[y : y + th, x : x + tw] for y in ys for x in xs]


def _name(rel: str) -> str:
    """The picture's name: Plasma keeps it in the folder above ``contents/images``."""
    p = Path(rel)
    return p.parents[2].name if p.parent.name == "images" else p.stem


def build(source: Path, out: Path) -> list[Path]:
    """Write every photograph's tiles as RGB PNG into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for package, paths in PHOTOS.items():
        for rel in paths:
            with Image.open(source / rel) as im:
                arr = reduced(im)
            for k, tile in enumerate(tiles(arr)):
                path = out / f"{package}-{_name(rel)}-{k:02d}.png"
                Image.fromarray(np.ascontiguousarray(tile)).save(path)
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--source", type=Path, help="a folder the packages are already unpacked in")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or Path(tmp)
        if args.source is None:
            fetch(list(PHOTOS), source)
        written = build(source, args.out)
    n = sum(len(v) for v in PHOTOS.values())
    print(f"{len(written)} tiles of {n} photographs in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
