"""The draft preview's noise level: what the model is told for a reduced decode."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from guihelpers import camera_noise_array, write_camera_photo

from denoiser.gui import backend, preview
from denoiser.gui.batch_runner import BatchOptions, BatchTask, run_batch
from denoiser.gui.document import Document, Draft
from denoiser.gui.picture import Picture
from denoiser.gui.qimage_convert import array_to_qimage
from denoiser.gui.render_work import (
    DRAFT_SIGMA_CROP,
    RenderParams,
    draft_preview,
    known_sigma,
    resolve_sigma,
)
from denoiser.strength import auto_sigma
from denoiser.tiling import DEFAULT_TILE


class EchoEngine:
    """Returns its input and remembers the sigma it was given."""

    def __init__(self) -> None:
        self.sigmas: list[float | None] = []

    def denoise(self, pixels, sigma, *, tile=DEFAULT_TILE, progress=None, cancel=None):
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
GAUSSIAN = SimpleNamespace(name="g", path="g.onnx", blind=False, noise_type="gaussian")
CAMERA = SimpleNamespace(name="c", path="c.onnx", blind=False, noise_type="camera")


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


# ----------------------------------------------------------------- Auto and the noise type


def run_generator(gen):
    """(what it yielded, what it returned)."""
    yielded = []
    try:
        while True:
            yielded.append(next(gen))
    except StopIteration as stop:
        return yielded, stop.value


def camera_document() -> Document:
    pixels = camera_noise_array().astype(np.float32) / 255.0
    return Document(name="c.png", pixels=pixels, original=None)


def test_auto_is_the_cores_estimate_for_the_models_noise_type():
    doc = camera_document()
    want = {k: auto_sigma(doc.pixels, noise_type=k) for k in ("gaussian", "camera")}
    assert want["gaussian"] > 1.3 * want["camera"]  # correlated noise: the two really differ
    for model in (GAUSSIAN, CAMERA):
        yielded, sigma = run_generator(resolve_sigma(doc, RenderParams(model=model)))
        assert sigma == pytest.approx(want[model.noise_type])
        assert yielded == [("sigma", sigma, model.noise_type)]


def test_auto_estimates_are_cached_per_noise_type(monkeypatch):
    doc = camera_document()
    doc.sigma_estimates["gaussian"] = 3.0
    calls = []
    monkeypatch.setattr(backend, "estimate_sigma",
                        lambda pixels, crop=0, *, noise_type: calls.append(noise_type) or 9.0)
    assert known_sigma(doc, RenderParams(model=CAMERA)) is None  # not the Gaussian one
    assert run_generator(resolve_sigma(doc, RenderParams(model=GAUSSIAN)))[1] == 3.0
    assert run_generator(resolve_sigma(doc, RenderParams(model=CAMERA)))[1] == 9.0
    assert calls == ["camera"]
    assert known_sigma(doc, RenderParams(model=CAMERA, sigma=20.0)) == 20.0
    blind = SimpleNamespace(name="b", path="b.onnx", blind=True, noise_type="camera")
    assert known_sigma(doc, RenderParams(model=blind)) is None


def test_a_model_without_noise_type_gets_the_gaussian_estimate():
    doc = camera_document()
    _, sigma = run_generator(resolve_sigma(doc, RenderParams(model=MODEL)))
    assert sigma == pytest.approx(auto_sigma(doc.pixels))


def test_draft_auto_uses_the_models_noise_type():
    full = camera_noise_array(192, 256).astype(np.float32) / 255.0
    draft = draft_of(full, 2)
    for model in (GAUSSIAN, CAMERA):
        engine, stages = EchoEngine(), {}
        draft_preview(engine, draft, RenderParams(model=model), (0, 0, 192, 256),
                      zoom=0.5, stages=stages)
        _, factor = stages["plan"]
        on_draft = auto_sigma(_middle(draft.u8, DRAFT_SIGMA_CROP), noise_type=model.noise_type)
        assert engine.sigmas[0] * factor == pytest.approx(on_draft * draft.scale)


def _middle(u8: np.ndarray, crop: int) -> np.ndarray:
    y0, x0, y1, x1 = preview.central_crop(u8.shape, crop)
    return u8[y0:y1, x0:x1]


class BatchJob:
    """What run_batch needs of a Job, without a thread."""

    is_cancelled = False

    def __init__(self) -> None:
        self.posted: list[tuple] = []
        self.progress = SimpleNamespace(emit=lambda *args: None)

    def post(self, value: tuple) -> None:
        self.posted.append(value)


@pytest.mark.parametrize("model", [GAUSSIAN, CAMERA], ids=lambda m: m.noise_type)
def test_batch_auto_uses_the_models_noise_type(model, tmp_path: Path, monkeypatch):
    from denoiser.imageio import read_image

    src = write_camera_photo(tmp_path / "c.png")
    engine = EchoEngine()
    monkeypatch.setattr(backend, "get_engine", lambda m, device="auto", threads=None: engine)
    job = BatchJob()
    task = BatchTask(index=0, source=src, output=tmp_path / "out" / "c.png")
    counts = run_batch(job, [task], BatchOptions(model=model, sigma=None, fmt="png"))
    assert counts["done"] == 1, job.posted
    pixels = read_image(src).pixels
    assert engine.sigmas == [pytest.approx(auto_sigma(pixels, noise_type=model.noise_type))]
