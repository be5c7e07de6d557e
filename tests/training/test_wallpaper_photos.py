"""The wallpaper photographs become BSD-sized tiles whose colour is full resolution."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from training import wallpaper_photos as wp
from training.train import training_folder


def covered(shape, parts):
    seen = np.zeros(shape[:2], bool)
    for y, x, h, w in parts:
        seen[y : y + h, x : x + w] = True
    return seen.all()


@pytest.mark.parametrize("h, w", [(700, 1000), (1000, 700), (320, 480), (853, 1280)])
def test_tiles_have_bsd_size_and_cover_the_picture(h, w):
    arr = np.arange(h * w, dtype=np.int64).reshape(h, w, 1)
    tiles = wp.tiles(arr)
    size = (320, 480) if w >= h else (480, 320)
    assert all(t.shape[:2] == size for t in tiles)
    # each tile's first value tells where it was cut
    parts = [(int(t[0, 0, 0]) // w, int(t[0, 0, 0]) % w, *size) for t in tiles]
    assert covered(arr.shape, parts)
    assert len(tiles) == -(-h // size[0]) * -(-w // size[1])


def test_a_picture_smaller_than_a_tile_stays_whole():
    arr = np.zeros((200, 300, 3), np.uint8)
    assert [t.shape for t in wp.tiles(arr)] == [(200, 300, 3)]


@pytest.mark.parametrize("size, expected", [((3000, 2000), (1280, 853)),
                                            ((1600, 1200), (800, 600))])
def test_reduction_is_at_least_half_and_at_most_the_long_side(size, expected):
    assert wp.reduced(Image.new("RGB", size)).shape == (expected[1], expected[0], 3)


def test_build_writes_tiles_named_after_package_and_picture(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for rel in ("usr/share/backgrounds/a.jpg", "usr/share/wallpapers/B/contents/images/x.jpg"):
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (1400, 2000, 3), dtype=np.uint8)).save(path)
    monkeypatch.setattr(wp, "PHOTOS", {"pkg": ["usr/share/backgrounds/a.jpg",
                                               "usr/share/wallpapers/B/contents/images/x.jpg"]})
    written = wp.build(tmp_path / "src", tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names[0] == "pkg-B-00.png" and names[-1].startswith("pkg-a-")
    assert len(written) == 2 * 3 * 3  # 1000 x 700 each: 3 rows of 3 tiles
    with Image.open(written[0]) as im:
        assert im.mode == "RGB" and im.size == (480, 320)


def test_recipe_folders_come_from_the_data_root_or_the_project(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "train" / "x").mkdir(parents=True)
    (tmp_path / "build" / "photos").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert training_folder(root, "train/x") == root / "train" / "x"
    assert training_folder(root, "build/photos").resolve() == (tmp_path / "build/photos")
    assert training_folder(root, "train/missing") == root / "train" / "missing"  # fails later
