"""Losses: reconstruction terms and the VAE's KL divergence, looked up by name from recipes."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def charbonnier(out: torch.Tensor, target: torch.Tensor, eps: float = 1e-3,
                reduction: str = "mean") -> torch.Tensor:
    per_pixel = torch.sqrt((out - target) ** 2 + eps**2)
    return per_pixel.mean() if reduction == "mean" else per_pixel


def log_mse(out: torch.Tensor, target: torch.Tensor, floor: float = (0.5 / 255) ** 2
            ) -> torch.Tensor:
    """The mean over samples of log(MSE + floor): minus the mean patch PSNR, up to scale.

    Why: the benchmarks average PSNR, the log of the squared error, over images and noise
    levels. L1 fits the median and weighs each level by its error; this fits the mean and
    weighs every patch alike. ``floor`` (half a grey level, squared) keeps nearly clean
    patches from taking over.
    """
    mse = (out - target).pow(2).flatten(1).mean(1)
    return torch.log(mse + floor).mean()


RECONSTRUCTION = {"l1": F.l1_loss, "l2": F.mse_loss, "charbonnier": charbonnier}


def sigma_weights(sigma: torch.Tensor, power: float, ref: float = 25.0,
                  offset: float = 5.0) -> torch.Tensor:
    """Per-sample loss weights ((ref + offset) / (sigma + offset)) ** power, sigma in 0..255.

    A model's error grows with the noise level (roughly as sigma ** 0.6 for these U-Nets), so
    an unweighted loss spends its capacity on the strongest noise, while a mean PSNR over
    levels counts every level alike. Dividing by the expected error (power about 0.6) makes
    the loss follow the log of the error, which is what PSNR measures; 1 at ``ref``.
    """
    level = sigma.flatten(1).mean(1) * 255.0
    return ((ref + offset) / (level + offset)) ** power


def weighted_reconstruction(name: str, out: torch.Tensor, target: torch.Tensor,
                            weights: torch.Tensor) -> torch.Tensor:
    """The reconstruction loss ``name`` of each sample, weighted, then averaged."""
    per_pixel = RECONSTRUCTION[name](out, target, reduction="none")
    return (per_pixel.flatten(1).mean(1) * weights).mean()


def reconstruction(cfg: dict, sigma: torch.Tensor) -> Callable[..., torch.Tensor]:
    """The recipe's reconstruction loss for this batch: plain, or weighted by noise level
    when the recipe's ``train`` section sets ``sigma_weight`` (the power above); ``log_mse``
    needs no weights."""
    power = cfg.get("sigma_weight")
    if cfg["loss"] == "log_mse":  # already scale-free per patch: no weights by level
        if power:
            raise ValueError("loss log_mse weighs every patch alike: drop sigma_weight")
        return log_mse
    if not power:
        return RECONSTRUCTION[cfg["loss"]]
    weights = sigma_weights(sigma, power)
    return lambda out, target: weighted_reconstruction(cfg["loss"], out, target, weights)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over latent channels, averaged over positions."""
    return kl_per_channel(mu, logvar).sum()


def kl_per_channel(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The KL of each latent channel, averaged over batch and positions (shape: channels)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=(0, 2, 3))


def free_bits_kl(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The KL penalty with "free bits" (Kingma et al. 2016): a channel's first ``free_bits``
    nats cost nothing, so the posterior is not pushed onto the prior before the decoder has
    learned to use the latent, which is how a conditional VAE collapses into an AE."""
    return kl_per_channel(mu, logvar).clamp(min=free_bits).sum()


def kl_weight(step: int, final: float, anneal_steps: int) -> float:
    """Linear warm-up of the KL weight: the decoder learns to use z before it is squeezed."""
    if anneal_steps <= 0:
        return final
    return final * min(1.0, step / anneal_steps)
