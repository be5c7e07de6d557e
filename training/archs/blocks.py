"""Building blocks shared by the AE and VAE: plain convolutions, no normalisation."""

from __future__ import annotations

import torch
import torch.nn as nn


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip (DRUNet style, no norm: it is noise-level agnostic).

    ``hidden`` narrows the middle (default: ``ch``): a block on half the hidden channels costs
    half the multiply-adds, where dropping it would cost its depth too.
    """

    def __init__(self, ch: int, hidden: int | None = None):
        super().__init__()
        mid = hidden or ch
        self.body = nn.Sequential(conv3(ch, mid), nn.ReLU(inplace=True), conv3(mid, ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def stage(ch: int, blocks: int, hidden: int | None = None) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(ch, hidden) for _ in range(blocks)])


def down(cin: int, cout: int) -> nn.Conv2d:
    """Strided 2x2 convolution: halves the resolution without aliasing a max-pool would add."""
    return nn.Conv2d(cin, cout, 2, stride=2)


def up(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 2, stride=2)
