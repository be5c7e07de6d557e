"""Conditional VAE denoiser: the U-Net with a stochastic latent at its bottleneck.

A VAE whose posterior sees only the noisy image has nothing to store in its latent and
collapses into an AE. Here the posterior q(z | noisy, clean) also sees the clean image
during training, and at test time z is drawn from the prior N(0, I) scaled by a
temperature; temperature 0 gives the deterministic estimate, which is trained directly
so that it is the best point estimate. Samples at temperature 1 differ where the model
is unsure, so their spread is an uncertainty map.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from training.archs import register
from training.archs.blocks import conv3, down
from training.archs.unet import UNetBody


class Posterior(nn.Module):
    """Small strided encoder of (noisy, clean, sigma) down to the bottleneck's resolution."""

    def __init__(self, channels: int, latent: int, multiple: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = [conv3(2 * channels + 1, width), nn.ReLU(inplace=True)]
        steps = multiple.bit_length() - 1
        for i in range(steps):
            cin, cout = width * 2 ** min(i, 2), width * 2 ** min(i + 1, 2)
            layers += [down(cin, cout), nn.ReLU(inplace=True)]
        layers.append(conv3(width * 2 ** min(steps, 2), 2 * latent))
        self.net = nn.Sequential(*layers)

    def forward(self, noisy, clean, sigma):
        mu, logvar = self.net(torch.cat([noisy, clean, sigma], 1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)


@register("unet_cvae")
class UNetCVAE(nn.Module):
    """``forward(noisy, sigma, temperature=...)`` -> (denoised, None, None) at test time;
    ``forward(noisy, sigma, clean)`` -> :meth:`forward_train`'s four outputs in training."""

    family = "vae"

    def __init__(
        self,
        channels: int = 3,
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (1, 1, 1, 1),
        unshuffle: int = 2,
        latent: int = 8,
    ):
        super().__init__()
        self.body = UNetBody(channels, widths, blocks, unshuffle, bottleneck_extra=latent)
        self.posterior = Posterior(channels, latent, self.body.multiple)
        self.channels, self.multiple, self.latent = channels, self.body.multiple, latent

    def decode(self, noisy, skips, z):
        return self.body.decode(noisy, skips, z)

    def forward(self, noisy, sigma, clean=None, temperature: float | torch.Tensor = 0.0):
        if clean is not None:  # through forward() so that DistributedDataParallel sees it
            return self.forward_train(noisy, sigma, clean)
        skips = self.body.encode(noisy, sigma)
        shape = (skips[-1].shape[0], self.latent, *skips[-1].shape[2:])
        eps = torch.randn(shape, device=noisy.device, dtype=skips[-1].dtype)
        return self.decode(noisy, skips, eps * temperature), None, None

    def forward_train(self, noisy, sigma, clean):
        """One encoder pass, two decodes: a posterior sample and the deterministic z = 0."""
        skips = self.body.encode(noisy, sigma)
        mu, logvar = self.posterior(noisy, clean, sigma)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        sampled = self.decode(noisy, skips, z)
        mean = self.decode(noisy, skips, torch.zeros_like(z))
        return sampled, mean, mu, logvar
