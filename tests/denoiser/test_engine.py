"""Engine: tiling exactness, padding, channels, sigma units, progress, cancel, devices, cache."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest

from denoiser import engine as engine_mod
from denoiser.cancel import CancelToken
from denoiser.engine import Engine, available_devices, get_engine
from denoiser.errors import Cancelled, ModelError
from denoiser.models import load_model_info


def mean_filter(img: np.ndarray, layers: int) -> np.ndarray:
    """Reference: ``layers`` zero-padded 3x3 mean filters per channel (H x W x C)."""
    out = img.astype(np.float64)
    for _ in range(layers):
        p = np.pad(out, ((1, 1), (1, 1), (0, 0)))
        out = sum(p[dy : dy + out.shape[0], dx : dx + out.shape[1]]
                  for dy in range(3) for dx in range(3)) / 9.0
    return out.astype(np.float32)


@pytest.fixture
def color_engine(color_model):
    return Engine(load_model_info(color_model), device="cpu", threads=1)


def test_whole_image_matches_reference(color_engine, noisy_rgb):
    # 70 x 90 pads to 72 x 96 (multiple 8) by reflection, then crops back
    padded = np.pad(noisy_rgb, ((0, 2), (0, 6), (0, 0)), "reflect")
    expected = mean_filter(padded, 4)[:70, :90]
    out = color_engine.denoise(noisy_rgb, 25.0)
    assert out.shape == noisy_rgb.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("tile,overlap", [(32, 16), (24, 16), (40, 32)])
def test_tiled_equals_untiled(color_engine, noisy_rgb, tile, overlap):
    whole = color_engine.denoise(noisy_rgb, 25.0, tile=4096)
    calls = []
    tiled = color_engine.denoise(noisy_rgb, 25.0, tile=tile, overlap=overlap,
                                 progress=lambda d, t: calls.append((d, t)))
    assert len(calls) > 4  # really tiled
    assert np.abs(tiled - whole).max() < 1e-3


def test_seams_show_without_overlap(color_engine, noisy_rgb):
    """The exactness above is earned by the guard band: without overlap the seams show."""
    whole = color_engine.denoise(noisy_rgb, 25.0, tile=4096)
    seams = color_engine.denoise(noisy_rgb, 25.0, tile=32, overlap=0)
    assert np.abs(seams - whole).max() > 1e-3


def test_padding_to_multiple_with_grid_sensitive_model(tmp_path, build, noisy_rgb):
    """A pool/upsample model (multiple 4) needs padding, and aligned tiles to stay exact."""
    eng = Engine(load_model_info(build.pool(tmp_path / "pool.onnx", levels=2)), "cpu", 1)
    img = noisy_rgb[:37, :53]
    whole = eng.denoise(img, None, tile=4096)
    padded = np.pad(img, ((0, 3), (0, 3), (0, 0)), "reflect")
    blocks = padded.reshape(10, 4, 14, 4, 3).mean(axis=(1, 3))
    expected = np.repeat(np.repeat(blocks, 4, 0), 4, 1)[:37, :53]
    np.testing.assert_allclose(whole, expected, atol=1e-5)
    tiled = eng.denoise(img, None, tile=16, overlap=4)
    assert np.abs(tiled - whole).max() < 1e-3


def test_progress_counts_every_tile(color_engine, noisy_rgb):
    calls = []
    color_engine.denoise(noisy_rgb, 10, tile=32, overlap=16,
                         progress=lambda d, t: calls.append((d, t)))
    total = calls[0][1]
    assert calls == [(i, total) for i in range(1, total + 1)]
    # 72 x 96 padded, tile 32, overlap 16: 4 rows x 5 columns
    assert total == 20


@pytest.fixture
def side_by_side(monkeypatch):
    """Every model runs its tiles side by side when it has the threads (an int8 graph's way)."""
    monkeypatch.setattr(engine_mod, "pays_side_by_side", lambda model: True)


@pytest.mark.parametrize("threads", [1, 2])  # 2: tiles side by side
def test_cancel_stops_between_tiles(color_model, noisy_rgb, threads, side_by_side):
    eng = Engine(load_model_info(color_model), "cpu", threads)
    token, calls = CancelToken(), []

    def progress(done, total):
        calls.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        eng.denoise(noisy_rgb, 10, tile=32, overlap=16, progress=progress, cancel=token)
    assert calls == [1, 2] and token.cancelled
    assert eng.denoise(noisy_rgb, 10, tile=32, overlap=16).shape == noisy_rgb.shape


def test_cancel_before_start(color_engine, noisy_rgb):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        color_engine.denoise(noisy_rgb, 10, cancel=token)


def test_two_threads_run_tiles_side_by_side_with_the_same_output(color_model, noisy_rgb,
                                                                  side_by_side):
    """Two threads run two tiles at once on two one-thread sessions, blended in order."""
    one = Engine(load_model_info(color_model), "cpu", threads=1)
    two = Engine(load_model_info(color_model), "cpu", threads=2)
    expected = one.denoise(noisy_rgb, 10, tile=32, overlap=16)
    calls = []
    out = two.denoise(noisy_rgb, 10, tile=32, overlap=16, progress=lambda d, t: calls.append(d))
    np.testing.assert_array_equal(out, expected)
    assert calls == list(range(1, 21))
    assert len(two._pair) == 2 and one._pair is None


class _Spy:
    """A session that records the run options of each run and passes the run on."""

    def __init__(self, session):
        self.session, self.options = session, []

    def run(self, outputs, feed, options=None):
        self.options.append(options)
        return self.session.run(outputs, feed, options)


def test_side_by_side_sessions_free_their_tile_memory_after_a_picture(color_model, noisy_rgb,
                                                                       side_by_side):
    eng = Engine(load_model_info(color_model), "cpu", threads=2)
    eng.denoise(noisy_rgb, 10, tile=32, overlap=16)
    eng._pair = [_Spy(s) for s in eng._pair]
    eng.denoise(noisy_rgb, 10, tile=32, overlap=16)
    for spy in eng._pair:
        assert spy.options[-1] is engine_mod._SHRINK  # the last run, after all the tiles
        assert spy.options[:-1] and all(o is None for o in spy.options[:-1])
    config = engine_mod._SHRINK.get_run_config_entry("memory.enable_memory_arena_shrinkage")
    assert config == "cpu:0"


class _FailingRelease(_Spy):
    def run(self, outputs, feed, options=None):
        if options is engine_mod._SHRINK:
            raise RuntimeError("arena busy")
        return super().run(outputs, feed, options)


def test_a_failed_release_only_warns(color_model, noisy_rgb, side_by_side, caplog):
    eng = Engine(load_model_info(color_model), "cpu", threads=2)
    expected = eng.denoise(noisy_rgb, 10, tile=32, overlap=16)
    eng._pair = [_FailingRelease(s) for s in eng._pair]
    out = eng.denoise(noisy_rgb, 10, tile=32, overlap=16)
    np.testing.assert_array_equal(out, expected)
    assert "could not free ae-color's tile memory: arena busy" in caplog.text


def test_one_tile_keeps_to_the_whole_session(color_model, noisy_rgb, side_by_side):
    two = Engine(load_model_info(color_model), "cpu", threads=2)
    two.denoise(noisy_rgb, 10)
    assert two._pair is None  # not even started


def test_a_float_graph_keeps_to_one_session(color_model, noisy_rgb):
    two = Engine(load_model_info(color_model), "cpu", threads=2)
    two.denoise(noisy_rgb, 10, tile=32, overlap=16)
    assert two._pair is None


@pytest.mark.parametrize("quantization,pays", [
    (None, False),
    ({"int8_nodes": 96, "float_nodes": 42}, True),  # ae-color 0.15.0
    ({"int8_nodes": 16, "float_nodes": 34}, True),  # ae-photo-int8 0.4.0
    ({"int8_nodes": 9, "float_nodes": 67}, False),  # ae-gray-int8 0.14.0
    ({"format": "QDQ"}, False),
    ("not json", False),
])
def test_int8_graphs_run_side_by_side(tmp_path, build, quantization, pays):
    meta = dict(build.color_meta)
    if quantization is not None:
        meta["quantization"] = quantization
    info = load_model_info(build.mean(tmp_path / "m.onnx", 3, meta=meta))
    assert engine_mod.pays_side_by_side(info) is pays


def test_model_failure_side_by_side_is_one_sentence(tmp_path, build, noisy_rgb, side_by_side):
    eng = Engine(load_model_info(build.shrinking(tmp_path / "shrink.onnx")), "cpu", 2)
    with pytest.raises(ModelError, match="returned shape"):
        eng.denoise(noisy_rgb, 10, tile=32, overlap=16)


def test_seeded_samples_keep_one_order_with_two_threads(vae_path, noisy_rgb, side_by_side):
    eng = Engine(load_model_info(vae_path), "cpu", 2)
    a = eng.denoise(noisy_rgb, 20, temperature=1.0, seed=3, tile=32, overlap=16)
    b = eng.denoise(noisy_rgb, 20, temperature=1.0, seed=3, tile=32, overlap=16)
    np.testing.assert_array_equal(a, b)
    assert eng._pair is None


def test_sigma_is_converted_to_model_units(tmp_path, build, noisy_rgb):
    eng = Engine(load_model_info(build.sigma_echo(tmp_path / "echo.onnx")), "cpu", 1)
    out = eng.denoise(noisy_rgb, 51.0, tile=32, overlap=8)
    np.testing.assert_allclose(out, 0.2, atol=1e-6)
    sigma_map = np.tile(np.linspace(0, 255, 90, dtype=np.float32), (70, 1))
    out = eng.denoise(noisy_rgb, sigma_map, tile=32, overlap=16)
    np.testing.assert_allclose(out[..., 1], sigma_map / 255, atol=1e-5)


def test_sigma_none_is_estimated(tmp_path, build, noisy_rgb, monkeypatch):
    eng = Engine(load_model_info(build.sigma_echo(tmp_path / "echo.onnx")), "cpu", 1)
    monkeypatch.setattr(eng, "_estimate", lambda image: 12.75)
    np.testing.assert_allclose(eng.denoise(noisy_rgb, None), 0.05, atol=1e-6)


def test_grey_image_on_colour_model(color_engine, noisy_rgb):
    grey = noisy_rgb[..., :1]
    out = color_engine.denoise(grey, 10, tile=32, overlap=16)
    assert out.shape == grey.shape
    expected = color_engine.denoise(np.repeat(grey, 3, axis=2), 10, tile=32, overlap=16)
    np.testing.assert_allclose(out[..., 0], expected.mean(axis=2), atol=1e-5)
    assert color_engine.denoise(grey[..., 0], 10).shape == grey.shape[:2]


def test_colour_image_on_grey_model(gray_model, color_engine, noisy_rgb):
    grey_engine = Engine(load_model_info(gray_model), "cpu", 1)
    out = grey_engine.denoise(noisy_rgb, 10, tile=32, overlap=16)
    np.testing.assert_allclose(out, color_engine.denoise(noisy_rgb, 10), atol=1e-5)


def test_region_matches_whole_image(color_engine, noisy_rgb):
    whole = color_engine.denoise(noisy_rgb, 10)
    region = color_engine.denoise_region(noisy_rgb, 10, box=(20, 30, 50, 70), margin=8)
    assert region.shape == (30, 40, 3)
    np.testing.assert_allclose(region, whole[20:50, 30:70], atol=1e-5)


def test_model_failure_is_one_sentence(tmp_path, build, noisy_rgb):
    eng = Engine(load_model_info(build.shrinking(tmp_path / "shrink.onnx")), "cpu", 1)
    with pytest.raises(ModelError, match="returned shape") as e:
        eng.denoise(noisy_rgb, 10)
    assert "\n" not in str(e.value)


def test_vae_temperature_zero_is_deterministic_and_samples_vary(vae_path, noisy_rgb):
    eng = Engine(load_model_info(vae_path), "cpu", 1)
    a, b = eng.denoise(noisy_rgb, 20), eng.denoise(noisy_rgb, 20)
    np.testing.assert_array_equal(a, b)
    s1 = eng.denoise(noisy_rgb, 20, temperature=1.0, seed=3)
    s2 = eng.denoise(noisy_rgb, 20, temperature=1.0, seed=3)
    np.testing.assert_array_equal(s1, s2)
    assert 0.05 < np.std(s1 - a) < 0.15  # the fixture adds 0.1 * N(0, 1)


def test_vae_sample_mean_and_std(vae_path, noisy_rgb):
    eng = Engine(load_model_info(vae_path), "cpu", 1)
    calls = []
    mean, std = eng.sample(noisy_rgb, 20, 8, seed=1, tile=48, overlap=16,
                           progress=lambda d, t: calls.append((d, t)))
    det = eng.denoise(noisy_rgb, 20)
    assert mean.shape == std.shape == noisy_rgb.shape
    assert abs(float(np.median(std)) - 0.1) < 0.03
    assert np.abs(mean - det).mean() < 0.06  # the mean of 8 has std 0.1/sqrt(8)
    assert calls[-1][0] == calls[-1][1] and calls[-1][1] % 8 == 0
    again, _ = eng.sample(noisy_rgb, 20, 8, seed=1, tile=48, overlap=16)
    np.testing.assert_array_equal(mean, again)


def test_sample_needs_a_stochastic_model(color_engine, noisy_rgb):
    with pytest.raises(ModelError, match="not stochastic"):
        color_engine.sample(noisy_rgb, 10, 4)


def test_explicit_cpu(color_model):
    eng = Engine(load_model_info(color_model), device="cpu")
    assert eng.device == "cpu" and eng.providers == ["CPUExecutionProvider"]
    assert eng.fallback_reason is None and eng.threads >= 1
    assert "cpu" in available_devices()
    with pytest.raises(ValueError):
        Engine(load_model_info(color_model), device="tpu")


def _pretend_cuda(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_cuda_failure_falls_back_to_cpu(color_model, monkeypatch, noisy_rgb):
    _pretend_cuda(monkeypatch)
    real = ort.InferenceSession

    def session(path, opts=None, providers=None, **kw):
        if "CUDAExecutionProvider" in (providers or []):
            raise RuntimeError("libcudnn.so.9: cannot open shared object file")
        return real(path, opts, providers=providers, **kw)

    monkeypatch.setattr(ort, "InferenceSession", session)
    eng = Engine(load_model_info(color_model), device="auto")
    assert eng.device == "cpu" and "libcudnn" in eng.fallback_reason
    assert eng.denoise(noisy_rgb, 10).shape == noisy_rgb.shape
    assert available_devices() == ["cpu", "cuda"]


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_cuda_silently_missing_from_session_falls_back(color_model, monkeypatch):
    """onnxruntime may start a session without CUDA instead of failing: detect that too."""
    _pretend_cuda(monkeypatch)
    eng = Engine(load_model_info(color_model), device="cuda")
    assert eng.device == "cpu" and "did not enable CUDA" in eng.fallback_reason


def test_explicit_cuda_without_cuda_build(color_model):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    eng = Engine(load_model_info(color_model), device="cuda")
    assert eng.device == "cpu" and "no CUDA support" in eng.fallback_reason


def test_session_cache_reuses_and_notices_changes(color_model, build):
    engine_mod.clear_engine_cache()
    info = load_model_info(color_model)
    a = get_engine(info, "cpu", 1)
    assert get_engine(info, "cpu", 1) is a
    assert get_engine(info, "cpu", 2) is not a
    build.mean(color_model, 3, layers=2, meta=build.color_meta)  # rewritten: new mtime
    st = os.stat(color_model)
    os.utime(color_model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert get_engine(load_model_info(color_model), "cpu", 1) is not a
    engine_mod.clear_engine_cache()


def test_a_model_that_names_its_tile_runs_on_it_unless_told_otherwise(tmp_path, build,
                                                                      noisy_rgb):
    """A graph measured faster on larger tiles says so in its metadata (``tile``)."""
    path = build.mean(tmp_path / "m.onnx", channels=3, meta={**build.color_meta, "tile": "32"})
    eng = Engine(load_model_info(path), "cpu")
    assert eng.default_tile == 32

    def tiles(**kw) -> int:
        calls = []
        eng.denoise(noisy_rgb, 10, overlap=16, progress=lambda d, t: calls.append(t), **kw)
        return calls[0]

    assert tiles() == tiles(tile=0) == 20  # 72 x 96 in 32 px tiles: 4 rows x 5 columns
    assert tiles(tile=1024) == 1
    plain = Engine(load_model_info(build.mean(tmp_path / "p.onnx", channels=3,
                                              meta=build.color_meta)), "cpu")
    assert plain.default_tile == 1024


def test_a_tile_under_the_models_multiple_is_rejected(tmp_path, build):
    path = build.mean(tmp_path / "m.onnx", channels=3, meta={**build.color_meta, "tile": "4"})
    with pytest.raises(ModelError, match="tile of 4 px"):
        load_model_info(path)
