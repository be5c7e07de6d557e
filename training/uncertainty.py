"""How good is a VAE's uncertainty? Sample diversity and how its spread tracks the real error."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from denoiser.noise import add_gaussian_noise


def block_means(a: np.ndarray, block: int = 16) -> np.ndarray:
    """Mean over non-overlapping block x block tiles (and channels) of an H x W x C array."""
    h, w = (a.shape[0] // block) * block, (a.shape[1] // block) * block
    a = a[:h, :w].mean(axis=2)
    return a.reshape(h // block, block, w // block, block).mean(axis=(1, 3)).ravel()


def spread_figures(clean: np.ndarray, estimate: np.ndarray, spread: np.ndarray) -> dict[str, float]:
    err = np.abs(np.clip(estimate, 0, 1) - clean)
    rho = spearmanr(block_means(spread), block_means(err)).statistic
    return {
        "spread_mean_255": float(spread.mean() * 255),
        "spread_error_spearman": float(rho),
        "within_2_spread": float(np.mean(err <= 2 * spread)),
    }


def sampler_for(model: Path, net=None, threads: int = 2):
    """(noisy, sigma, k, seed) -> (deterministic estimate, per-pixel std of k samples)."""
    if net is not None:
        import torch

        def sample(noisy, sigma, k, seed):
            torch.manual_seed(seed)
            det = net.denoise(noisy, sigma)
            draws = np.stack([net.denoise(noisy, sigma, temperature=1.0) for _ in range(k)])
            return det, draws.std(axis=0)

        return sample
    from denoiser.engine import Engine
    from denoiser.models import load_model_info

    engine = Engine(load_model_info(model), device="cpu", threads=threads)

    def sample(noisy, sigma, k, seed):
        det = engine.denoise(noisy, sigma, tile=1024)
        _, std = engine.sample(noisy, sigma, k, seed=seed, tile=1024)
        return det, std

    return sample


def evaluate_spread(model: Path, cleans: Sequence[np.ndarray], sigma: float, k: int,
                    net=None, threads: int = 2) -> dict[str, float]:
    """Mean of the per-image figures: spread size, rank correlation with error, coverage."""
    sample = sampler_for(model, net, threads)
    rows = []
    for i, clean in enumerate(cleans):
        noisy = add_gaussian_noise(clean, sigma, seed=i)
        det, std = sample(noisy, sigma, k, seed=i)
        rows.append(spread_figures(clean, det, std))
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
