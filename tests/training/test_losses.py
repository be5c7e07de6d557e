import math

import pytest
import torch
import torch.nn.functional as F

from training.losses import reconstruction, sigma_weights, weighted_reconstruction


def sigma_map(levels):
    return torch.tensor(levels, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 4, 4) / 255


def test_sigma_weights_are_one_at_the_reference_and_fall_with_the_level():
    w = sigma_weights(sigma_map([0, 15, 25, 50, 75]), power=0.6)
    assert w[2] == pytest.approx(1.0)
    assert torch.all(w[:-1] > w[1:])
    assert w[0] == pytest.approx(6.0 ** 0.6)  # (25 + 5) / (0 + 5)
    assert torch.allclose(sigma_weights(sigma_map([0, 75]), power=0.0), torch.ones(2))


@pytest.mark.parametrize("name", ["l1", "l2", "charbonnier"])
def test_unit_weights_give_the_plain_loss(name):
    gen = torch.Generator().manual_seed(0)
    out, target = torch.rand(3, 3, 8, 8, generator=gen), torch.rand(3, 3, 8, 8, generator=gen)
    plain = reconstruction({"loss": name}, sigma_map([10, 20, 30]))(out, target)
    assert weighted_reconstruction(name, out, target, torch.ones(3)) == pytest.approx(
        float(plain), rel=1e-5)


def test_weighted_loss_counts_low_noise_samples_more():
    out, target = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    out[1] = 0.5  # the second sample is half as wrong
    rec = reconstruction({"loss": "l1", "sigma_weight": 0.6}, sigma_map([5, 50]))
    w = sigma_weights(sigma_map([5, 50]), 0.6)
    assert float(rec(out, target)) == pytest.approx(float((w[0] * 1.0 + w[1] * 0.5) / 2))
    assert float(rec(out, target)) > float(F.l1_loss(out, target))


def test_log_mse_is_minus_the_mean_patch_psnr_up_to_scale():
    target = torch.zeros(2, 1, 4, 4)
    out = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 0.01)])
    loss = float(reconstruction({"loss": "log_mse"}, sigma_map([25, 25]))(out, target))
    floor = (0.5 / 255) ** 2
    assert loss == pytest.approx((math.log(0.01 + floor) + math.log(1e-4 + floor)) / 2)
    # a patch ten times less wrong lowers it by the same amount at any error: scale-free
    rec = reconstruction({"loss": "log_mse"}, sigma_map([25, 25]))
    big = torch.stack([torch.full((1, 4, 4), 0.3), torch.full((1, 4, 4), 0.2)])
    drop = float(rec(big, target)) - float(rec(big / 10, target))
    assert drop == pytest.approx(math.log(100), rel=0.02)


def test_log_mse_refuses_weights_by_level():
    with pytest.raises(ValueError, match="sigma_weight"):
        reconstruction({"loss": "log_mse", "sigma_weight": 0.6}, sigma_map([25]))
