"""A large JPEG is shown and previewed from its reduced decode before the full decode.

The drafts path must change only *when* things appear, never the final result; other
formats, and JPEGs not much larger than the view, go the way they always went.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from guihelpers import LONG, drop_urls, noisy_array
from PIL import Image

pytestmark = pytest.mark.usefixtures("installed_models")


@pytest.fixture
def window(window, qtbot):
    """A small window (its view about 370 x 470), so an 800 x 600 photo is fitted at
    under half size: large enough for a draft, small enough to denoise quickly."""
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.view.active_canvas().width() < 400, timeout=LONG)
    # however loaded the machine, the full decode waits for the draft's preview
    window.pipeline.loader.preview_wait = LONG / 1000
    return window


def write_jpeg(path: Path, h: int = 600, w: int = 800) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noisy_array(h, w)).save(path, quality=92)
    return path


def drop_and_record(qtbot, window, path: Path) -> list[str]:
    """Drop ``path`` and wait for its whole result; returns what was shown, in order."""
    seen: list[str] = []
    p = window.pipeline
    p.loader.draftRead.connect(lambda d: seen.append("draft"))
    p.previewShown.connect(lambda: seen.append("preview from draft" if p.doc is None
                                               else "preview"))
    p.documentShown.connect(lambda d: seen.append("document"))
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        drop_urls(window, [path])
    return seen


def test_large_jpeg_previews_from_its_draft_first(qtbot, window, tmp_path):
    photo = write_jpeg(tmp_path / "big.jpg")
    seen = drop_and_record(qtbot, window, photo)
    assert seen[:2] == ["draft", "preview from draft"]
    assert seen.index("document") > 1
    t = window.timings
    assert t["drop"] < t["shown"] < t["preview"] < t["read"] < t["full"] <= t["result"]
    doc = window.doc
    assert doc.path == photo and window.pipeline.draft is None
    assert window.view.picture("original") is doc.original
    assert window.view.picture("result") is doc.rendered.picture
    assert window.actions_.save.isEnabled()


def test_draft_patch_is_coarse_and_in_full_image_coordinates(qtbot, window, tmp_path):
    photo = write_jpeg(tmp_path / "big.jpg")
    drafts, patches = [], []
    window.pipeline.loader.draftRead.connect(drafts.append)
    window.session.previewReady.connect(patches.append)
    with qtbot.waitSignal(window.previewShown, timeout=LONG):
        drop_urls(window, [photo])
    draft, first = drafts[0], patches[0]
    assert draft.size == (800, 600) and draft.scale == 2
    assert draft.original.width == 800 and draft.original.reduced
    assert first.factor % draft.scale == 0
    assert first.box == (0, 0, 600, 800)  # the whole view (fitted: the whole image)
    zoom = window.view.active_canvas().zoom()
    wait_whole(qtbot, window)
    assert window.view.active_canvas().zoom() == pytest.approx(zoom)  # the view stayed


def wait_whole(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.doc is not None and window.doc.rendered is not None
                    and window.session.is_current(), timeout=LONG)


def test_result_is_the_same_with_and_without_the_draft(qtbot, window, tmp_path):
    photo = write_jpeg(tmp_path / "big.jpg")
    assert "draft" in drop_and_record(qtbot, window, photo)
    with_draft = window.doc.rendered
    window.pipeline.loader.drafts = False
    seen = drop_and_record(qtbot, window, photo)
    assert "draft" not in seen and "preview from draft" not in seen
    without = window.doc.rendered
    assert with_draft.sigma == without.sigma
    np.testing.assert_array_equal(with_draft.result, without.result)


def test_png_and_small_jpeg_skip_the_draft(qtbot, window, tmp_path):
    big_png = tmp_path / "big.png"
    Image.fromarray(noisy_array(600, 800)).save(big_png)
    seen = drop_and_record(qtbot, window, big_png)
    assert "draft" not in seen and seen.index("document") < seen.index("preview")
    seen = drop_and_record(qtbot, window, write_jpeg(tmp_path / "small.jpg", 300, 400))
    assert "draft" not in seen  # shown at over half size: the full decode is quick


def test_cancel_while_reading_shows_the_image_without_denoising(qtbot, window, tmp_path):
    photo = write_jpeg(tmp_path / "big.jpg")
    with qtbot.waitSignal(window.pipeline.loader.draftRead, timeout=LONG):
        drop_urls(window, [photo])
    window.cancel_btn.click()
    with qtbot.waitSignal(window.documentShown, timeout=LONG):
        pass
    qtbot.waitUntil(lambda: not window.runner.is_busy(), timeout=LONG)
    assert window.doc.path == photo and window.doc.rendered is None
    assert window.view.picture("original") is window.doc.original
    window.controls.set_auto(False)
    window.controls.set_sigma(12.0)  # a settings change denoises again
    wait_whole(qtbot, window)
    assert window.doc.rendered.sigma == 12.0
