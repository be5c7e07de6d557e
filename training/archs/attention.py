"""Self-attention inside square windows of a feature map, for a U-Net level.

Why: where ``ae-color`` loses most to CBM3D is structure that repeats near itself (a lattice of
thin bars, a row of windows, fabric), which block matching gathers and averages and a stack
of 3x3 convolutions sees only one instance of at a time. Attention lets every position
average the positions of its window that look like it, as block matching does, at a cost
that grows with the window's area, not the picture's (Swin, Liu et al. 2021; SwinIR). Windows
are fixed squares from the map's origin; the app's tiles start at multiples of the network's
``multiple``, so a tile's windows are the whole picture's.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class WindowAttention(nn.Module):
    """``x + proj(attention(x))`` within ``window`` x ``window`` squares, ``heads`` heads.

    No normalisation, like the rest of the network (it must see the noise level); the output
    projection starts at zero, so a network grown by this block computes what it did before.
    """

    def __init__(self, ch: int, window: int = 8, heads: int = 1):
        super().__init__()
        if ch % heads:
            raise ValueError(f"{ch} channels do not split into {heads} heads")
        self.window, self.heads = window, heads
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        """N x C x H x W -> (N * heads * windows) x window^2 x C / heads."""
        n, c, h, w = t.shape
        s, g = self.window, self.heads
        t = t.reshape(n, g, c // g, h // s, s, w // s, s)
        return t.permute(0, 1, 3, 5, 4, 6, 2).reshape(-1, s * s, c // g)

    def _merge(self, t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        n, c, h, w = shape
        s, g = self.window, self.heads
        t = t.reshape(n, g, h // s, w // s, s, s, c // g)
        return t.permute(0, 1, 6, 2, 4, 3, 5).reshape(n, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split(t) for t in self.qkv(x).chunk(3, dim=1))
        weights = torch.softmax(q @ k.transpose(1, 2) * q.shape[-1] ** -0.5, dim=-1)
        return x + self.proj(self._merge(weights @ v, x.shape))


def attention_stage(ch: int, blocks: int, window: int, heads: int) -> nn.Sequential:
    return nn.Sequential(*[WindowAttention(ch, window, heads) for _ in range(blocks)])
