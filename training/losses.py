"""Losses: reconstruction terms and the VAE's KL divergence, looked up by name from recipes."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def charbonnier(out: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((out - target) ** 2 + eps**2).mean()


RECONSTRUCTION = {"l1": F.l1_loss, "l2": F.mse_loss, "charbonnier": charbonnier}


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over latent channels, averaged over positions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def kl_weight(step: int, final: float, anneal_steps: int) -> float:
    """Linear warm-up of the KL weight: the decoder learns to use z before it is squeezed."""
    if anneal_steps <= 0:
        return final
    return final * min(1.0, step / anneal_steps)
