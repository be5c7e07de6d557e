"""Run a training checkpoint on whole images in torch, padded to the network's multiple."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training import checkpoint


class TorchDenoiser:
    """Callable ``denoise(noisy H x W x C float32, sigma_255) -> H x W x C`` around a network."""

    def __init__(self, net: torch.nn.Module):
        self.net = net.eval()
        self.channels, self.multiple = net.channels, net.multiple

    @classmethod
    def from_checkpoint(cls, path: str | Path, threads: int = 2) -> TorchDenoiser:
        torch.set_num_threads(threads)
        return cls(checkpoint.model_from(checkpoint.load(path)))

    def tensors(self, noisy: np.ndarray, sigma: float | np.ndarray) -> tuple:
        h, w = noisy.shape[:2]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        x = torch.from_numpy(np.ascontiguousarray(noisy.transpose(2, 0, 1)))[None]
        x = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        if np.ndim(sigma):  # a per-pixel map, padded like the image
            s = torch.from_numpy(np.asarray(sigma, np.float32) / 255.0)[None, None]
            s = F.pad(s, (0, pw, 0, ph), mode="reflect") if ph or pw else s
        else:
            s = torch.full((1, 1, *x.shape[2:]), sigma / 255.0)
        return x, s, (h, w)

    @torch.no_grad()
    def denoise(
        self, noisy: np.ndarray, sigma: float | np.ndarray, temperature: float = 0.0
    ) -> np.ndarray:
        x, s, (h, w) = self.tensors(noisy, sigma)
        out = self.net(x, s) if temperature == 0.0 and self.net.family == "ae" else None
        if out is None:
            out = self.net(x, s, temperature=temperature)[0]
        return out[0, :, :h, :w].permute(1, 2, 0).numpy()
