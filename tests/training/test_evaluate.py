"""The evaluation protocol and metrics give the figures computed by hand."""

from __future__ import annotations

import numpy as np
from PIL import Image

from denoiser.metrics import psnr, ssim
from denoiser.noise import add_gaussian_noise
from training.evaluate import evaluate


def test_psnr_on_a_case_computed_by_hand():
    clean = np.zeros((4, 4), np.float32)
    out = np.zeros((4, 4), np.float32)
    out[0, 0] = 16 / 255  # one pixel off by 16 levels: MSE = 256 / 16 = 16
    assert abs(psnr(clean, out) - 10 * np.log10(255**2 / 16)) < 1e-9


def test_psnr_clips_and_rounds_to_8_bits():
    clean = np.full((8, 8), 0.5, np.float32)
    assert psnr(clean, clean + 0.4 / 255) == float("inf")  # rounds back to the same level
    assert psnr(np.ones((8, 8)), np.full((8, 8), 1.7)) == float("inf")  # clipped to 1


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.random((40, 48, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    a8, b8 = np.round(a * 255), np.round(b * 255)
    ref = structural_similarity(a8, b8, data_range=255, channel_axis=2, gaussian_weights=True,
                                sigma=1.5, use_sample_covariance=False)
    assert abs(ssim(a, b) - ref) < 2e-3
    assert ssim(a, a) == 1.0


def test_protocol_noise_is_seeded_by_index_and_unclipped():
    clean = np.full((16, 16, 3), 0.99, np.float32)
    n0 = add_gaussian_noise(clean, 25, seed=0)
    noise = np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    expected = clean + noise * (25 / 255)
    assert np.array_equal(n0, expected)
    assert n0.max() > 1.0  # not clipped
    assert not np.array_equal(n0, add_gaussian_noise(clean, 25, seed=1))


def test_identity_method_scores_the_noisy_psnr(tmp_path):
    """Evaluating 'no denoising' with the nlm-free path gives the PSNR of the noisy input itself."""
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    from training import evaluate as ev

    ev.PEERS["identity"] = lambda channels: (lambda noisy, sigma: noisy)
    try:
        res = evaluate(None, tmp_path, [25], peers=["identity"])
    finally:
        del ev.PEERS["identity"]
    cleans = ev.load_clean(tmp_path, 1)
    by_hand = np.mean([psnr(c, add_gaussian_noise(c, 25, i)) for i, c in enumerate(cleans)])
    assert abs(res["methods"]["identity"]["25"]["psnr"] - by_hand) < 1e-9
    per_image = res["methods"]["identity"]["25"]["psnr_per_image"]
    assert per_image == [round(psnr(c, add_gaussian_noise(c, 25, i)), 3)
                         for i, c in enumerate(cleans)]


def test_camera_settings_give_the_model_a_map_and_peers_its_rms(tmp_path):
    """Camera noise is repeatable per image; a model sees the true map, a peer one level."""
    rng = np.random.default_rng(1)
    data = tmp_path / "CSET"  # a colour set, as its name says
    data.mkdir()
    for i in range(2):
        Image.fromarray((rng.random((32, 48, 3)) * 255).astype(np.uint8)).save(data / f"{i}.png")
    from training import evaluate as ev
    from training.camera_eval import camera_noisy

    seen = []
    ev.PEERS["probe"] = lambda channels: (lambda noisy, sigma: seen.append(sigma) or noisy)
    try:
        res = evaluate(None, data, [], peers=["probe"], camera=["mid", "mid+jpeg75"])
    finally:
        del ev.PEERS["probe"]
    assert set(res["methods"]["probe"]) == {"camera-mid", "camera-mid+jpeg75"}
    assert all(isinstance(s, float) and 2 < s < 60 for s in seen)
    clean = ev.load_clean(data, 3)[0]
    a, map_a = camera_noisy(clean, 0, "camera-mid")
    b, map_b = camera_noisy(clean, 0, "camera-mid")
    assert np.array_equal(a, b) and map_a.shape == clean.shape[:2]
    assert map_a.std() > 0  # signal-dependent: the level varies over the picture
    assert abs(seen[0] - float(np.sqrt(np.mean(map_a**2)))) < 1e-4


def test_white_noise_splits_by_colour_part_as_its_share_of_dimensions(tmp_path):
    """White noise left in place: a third luminance, two thirds colour; a quarter coarse."""
    data = tmp_path / "Colour"
    data.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(96, 160, (96, 96, 3), dtype=np.uint8)).save(data / "0.png")
    from training import evaluate as ev

    ev.PEERS["identity"] = lambda channels: (lambda noisy, sigma: noisy)
    try:
        res = evaluate(None, data, [10], peers=["identity"])
    finally:
        del ev.PEERS["identity"]
    mse = res["methods"]["identity"]["10"]["mse_by_colour"]["mse"]
    share = np.array(mse) / sum(mse)
    assert np.allclose(share, [1 / 12, 3 / 12, 2 / 12, 6 / 12], atol=0.02)
    kept = res["methods"]["identity"]["10"]["kept_by_colour"]["kept"]
    assert np.allclose(kept, 1.0, atol=0.05)  # noise left in place erases no detail
