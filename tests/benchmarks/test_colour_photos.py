"""benchmarks/colour_photos.py builds the generalisation set from the installed scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from benchhelpers import load_script
from PIL import Image

pytest.importorskip("skimage")


def test_builds_the_colour_photographs_as_rgb_png(tmp_path):
    photos = load_script("colour_photos")
    written = photos.build(tmp_path / "set")
    assert [p.name for p in written] == sorted(p.name for p in written)
    assert len(written) == len(photos.PHOTOS) == 5
    for path in written:
        with Image.open(path) as im:
            assert (im.format, im.mode) == ("PNG", "RGB")
            rgb = np.asarray(im).astype(np.float32)
        # colour photographs, not grey ones saved as RGB
        assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 5
