"""Noise-level-conditioned U-Net: the deterministic autoencoder (AE) denoiser.

The noisy image and its noise-level map go through a pixel-unshuffle stem (cheap on CPUs:
every convolution runs at half resolution or less), an encoder of residual stages with
strided downsampling, and a mirrored decoder with additive skips. The network predicts the
noise residual, so an untrained network starts as the identity. ``hidden`` (one width per
level) narrows the middle of every residual block of a level (``training.prune --hidden``
makes such a network from a trained one). An optional head
(``full_width``) adds a few convolutions at full resolution to that residual, and optional
window attention (``attention``: blocks per level, ``training.archs.attention``) follows an
encoder stage and its decoder stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn

from training.archs import register
from training.archs.attention import attention_stage
from training.archs.blocks import conv3, down, stage, up


class FullResHead(nn.Module):
    """A few convolutions at full resolution that correct the half-resolution decoder.

    All the other layers run at half resolution or less, where one position holds a 2x2 cell:
    cheap, and strong on heavy noise, but fine structure at light noise (thin lines, texture a
    pixel wide) is what it blurs. This head sees the noisy pixels themselves beside the
    decoder's last features brought up to full size, and adds a correction to the residual.
    Its output convolution starts at zero, so a network grown by it computes what it did.
    """

    def __init__(self, channels: int, features: int, width: int, blocks: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(features, width, 2, stride=2)
        self.inp = conv3(channels, width)
        self.body = stage(width, blocks)
        self.out = conv3(width, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(self.up(x) + self.inp(noisy)))


class UNetBody(nn.Module):
    """Encoder-decoder shared by the AE and the VAE; ``bottleneck_extra`` adds latent channels."""

    def __init__(
        self,
        channels: int = 3,
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (1, 1, 1, 1),
        unshuffle: int = 2,
        bottleneck_extra: int = 0,
        full_width: int = 0,
        full_blocks: int = 1,
        attention: Sequence[int] = (),
        window: int = 8,
        heads: int = 1,
        hidden: Sequence[int] = (),
    ):
        super().__init__()
        if hidden and len(hidden) != len(widths):
            raise ValueError(f"hidden needs one width per level: {len(widths)}, "
                             f"not {len(hidden)}")
        mids = list(hidden) or [None] * len(widths)
        self.channels = channels
        self.unshuffle = unshuffle
        self.multiple = unshuffle * 2 ** (len(widths) - 1)
        stem_in = (channels + 1) * unshuffle**2
        self.stem = nn.Sequential(nn.PixelUnshuffle(unshuffle), conv3(stem_in, widths[0]))
        self.enc = nn.ModuleList(stage(w, b, h) for w, b, h in zip(widths[:-1], blocks[:-1], mids))
        self.downs = nn.ModuleList(down(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.mid_in = conv3(widths[-1] + bottleneck_extra, widths[-1]) if bottleneck_extra else None
        self.mid = stage(widths[-1], blocks[-1], mids[-1])
        self.ups = nn.ModuleList(up(b, a) for a, b in zip(widths[:-1], widths[1:]))
        self.dec = nn.ModuleList(stage(w, b, h) for w, b, h in zip(widths[:-1], blocks[:-1], mids))
        self.tail = nn.Sequential(
            conv3(widths[0], channels * unshuffle**2), nn.PixelShuffle(unshuffle))
        nn.init.zeros_(self.tail[0].weight)  # predicted residual starts at 0: identity at step 0
        nn.init.zeros_(self.tail[0].bias)
        self.full = (FullResHead(channels, widths[0], full_width, full_blocks)
                     if full_width else None)
        self.enc_attn = self.dec_attn = None
        if len(attention) >= len(widths):
            raise ValueError("window attention goes in the encoder and decoder levels only, "
                             f"{len(widths) - 1} here")
        if attention:  # one stage per level, empty (the identity) where none is asked for
            counts = [*attention, *[0] * (len(widths) - 1 - len(attention))]

            def stages() -> nn.ModuleList:
                return nn.ModuleList(attention_stage(w, n, window, heads)
                                     for w, n in zip(widths, counts))

            self.enc_attn, self.dec_attn = stages(), stages()
        for level, n in enumerate(attention):  # each window must fit whole in every tile
            if n:
                self.multiple = math.lcm(self.multiple, unshuffle * 2**level * window)

    def encode(self, noisy: torch.Tensor, sigma: torch.Tensor) -> list[torch.Tensor]:
        """Return the skip features of each level; the last one is the bottleneck input."""
        x = self.stem(torch.cat([noisy, sigma], dim=1))
        skips = []
        for i, (enc, dn) in enumerate(zip(self.enc, self.downs)):
            x = self._attend(self.enc_attn, i, enc(x))
            skips.append(x)
            x = dn(x)
        skips.append(x)
        return skips

    def decode(self, noisy: torch.Tensor, skips: list[torch.Tensor], z: torch.Tensor | None = None):
        x = skips[-1]
        if self.mid_in is not None:
            x = self.mid_in(torch.cat([x, z], dim=1))
        x = self.mid(x)
        for i in reversed(range(len(self.ups))):
            x = self._attend(self.dec_attn, i, self.dec[i](self.ups[i](x) + skips[i]))
        residual = self.tail(x)
        if self.full is not None:
            residual = residual + self.full(x, noisy)
        return noisy - residual

    @staticmethod
    def _attend(blocks: nn.ModuleList | None, level: int, x: torch.Tensor) -> torch.Tensor:
        return x if blocks is None else blocks[level](x)


@register("unet_ae")
class UNetAE(nn.Module):
    """AE denoiser: ``forward(noisy, sigma) -> denoised`` (all N x C x H x W, values 0..1)."""

    family = "ae"

    def __init__(self, **kwargs):
        super().__init__()
        self.body = UNetBody(**kwargs)
        self.channels = self.body.channels
        self.multiple = self.body.multiple

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.body.decode(noisy, self.body.encode(noisy, sigma))
