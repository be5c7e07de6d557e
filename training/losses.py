"""Losses: reconstruction terms and the VAE's KL divergence, looked up by name from recipes."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def charbonnier(out: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((out - target) ** 2 + eps**2).mean()


RECONSTRUCTION = {"l1": F.l1_loss, "l2": F.mse_loss, "charbonnier": charbonnier}


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
