"""The draft preview's noise level: what the model is told for a reduced decode."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from denoiser.gui import preview
from denoiser.gui.document import Draft
from denoiser.gui.picture import Picture
from denoiser.gui.qimage_convert import array_to_qimage
from denoiser.gui.render_work import RenderParams, draft_preview


class EchoEngine:
    """Returns its input and remembers the sigma it was given."""

    def __init__(self) -> None:
        self.sigmas: list[float | None] = []

    def denoise(self, pixels, sigma, *, tile=512, progress=None, cancel=None):
        self.sigmas.append(sigma)
        return pixels


def draft_of(full: np.ndarray, k: int) -> Draft:
    """What a JPEG decoder's 1/k scaling gives: the mean of each k x k block."""
    h, w, c = full.shape
    means = full.reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))
    u8 = np.clip(means * 255 + 0.5, 0, 255).astype(np.uint8)
    return Draft(name="p.jpg", path=None, u8=u8, scale=k, size=(w, h),
                 original=Picture(array_to_qimage(u8), size=(w, h)))


def white_noise_photo(h: int = 1024, w: int = 1536, sigma: float = 20.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    clean = np.stack([0.3 + 0.4 * x / w, 0.4 + 0.3 * y / h, np.full_like(x, 0.5)], axis=-1)
    return clean + rng.normal(0, sigma / 255, clean.shape).astype(np.float32)


MODEL = SimpleNamespace(name="m", path="m.onnx", blind=False)


def test_auto_measures_the_noise_on_the_draft():
    draft = draft_of(white_noise_photo(), 4)  # averaging 4 x 4 divides white noise by 4
    engine, stages = EchoEngine(), {}
    patch = draft_preview(engine, draft, RenderParams(model=MODEL), (0, 0, 1024, 1536),
                          zoom=1 / 6, stages=stages)
    _, factor = stages["plan"]
    assert patch.factor == factor and factor % 4 == 0
    # the model is told the noise left after averaging factor x factor source pixels
    assert engine.sigmas[0] * factor == pytest.approx(20.0, rel=0.15)
    h, w = patch.result.image.height(), patch.result.image.width()
    assert h * w <= preview.QUICK_BUDGET_PX
    assert (patch.result.rect.width(), patch.result.rect.height()) == (1536, 1024)


def test_a_set_strength_is_divided_by_the_reduction():
    draft = draft_of(white_noise_photo(256, 384), 2)
    engine = EchoEngine()
    patch = draft_preview(engine, draft, RenderParams(model=MODEL, sigma=30.0),
                          (0, 0, 256, 384), zoom=0.5)
    assert patch.factor == 2 and engine.sigmas == [pytest.approx(15.0)]


def test_blind_models_get_no_strength():
    draft = draft_of(white_noise_photo(256, 384), 2)
    engine = EchoEngine()
    blind = SimpleNamespace(name="b", path="b.onnx", blind=True)
    draft_preview(engine, draft, RenderParams(model=blind), (0, 0, 256, 384), zoom=0.5)
    assert engine.sigmas == [None]


def test_a_view_off_the_image_gives_nothing():
    draft = draft_of(white_noise_photo(64, 64), 2)
    assert draft_preview(EchoEngine(), draft, RenderParams(model=MODEL), (10, 10, 10, 20),
                         zoom=0.5) is None
