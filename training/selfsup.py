"""Self-supervised training from noisy images alone: patches and the Neighbor2Neighbor loss.

Neighbor2Neighbor (Huang et al., CVPR 2021): in every 2x2 cell of a noisy image y pick two
pixels that share an edge; the first picks form the half-resolution sub-image g1(y), the
second ones g2(y). Both show nearly the same scene with independent noise, so training
f(g1(y)) towards g2(y) learns to remove noise (Noise2Noise) without any clean image. The
two sub-images are half a pixel apart, which alone would teach a little blur; the
regulariser asks the difference of the outputs to match what the network does on the full
image, g1(f(y)) - g2(f(y)), which pulls the solution back towards a sharp denoiser.
This holds for noise that is independent from pixel to pixel (sensor noise before
demosaicking and strong compression); correlated noise partly survives it.

The conditional VAE is trained the same way on its deterministic path (z = 0, what the app
runs at temperature 0), and its latent by the negative ELBO of g2(y) with the noise model as
the likelihood: g2 is a noisy observation of the scene, so p(g2 | x) = N(x, sigma^2) per the
noise-level map, and the posterior sees g2 where supervised training shows it the clean image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from training.losses import free_bits_kl, kl_to_standard_normal

# Positions in a 2x2 cell, in pixel-unshuffle order: 0 (top left), 1 (top right),
# 2 (bottom left), 3 (bottom right). The eight ordered pairs of edge neighbours:
_NEIGHBOUR_PAIRS = torch.tensor([[0, 1], [1, 0], [0, 2], [2, 0], [1, 3], [3, 1], [2, 3], [3, 2]])


def neighbour_pairs(n: int, h: int, w: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """For each 2x2 cell of n images of h x w, the cell positions (0..3) of two edge neighbours.

    The same choice serves every channel, so a colour pixel stays one pixel.
    """
    choice = torch.randint(len(_NEIGHBOUR_PAIRS), (n, 1, 1, h // 2, w // 2), generator=gen)
    pairs = _NEIGHBOUR_PAIRS[choice]
    return pairs[..., 0], pairs[..., 1]


def subsample(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The half-resolution image made of the pixel at ``positions`` in every 2x2 cell of ``x``."""
    n, c, h, w = x.shape
    cells = F.pixel_unshuffle(x, 2).view(n, c, 4, h // 2, w // 2)
    return cells.gather(2, positions.expand(n, c, 1, h // 2, w // 2)).squeeze(2)


def neighbor2neighbor_loss(
    model: torch.nn.Module, noisy: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator,
    gamma: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """||f(g1(y)) - g2(y)||^2 + gamma ||f(g1(y)) - g2(y) - (g1(f(y)) - g2(f(y)))||^2.

    f(y) is computed without gradients, as in the paper: it only supplies the target of the
    regulariser. The paper ramps gamma up from 0 during training; the caller does that.
    """
    first, second = neighbour_pairs(noisy.shape[0], *noisy.shape[2:], gen)
    with torch.no_grad():
        full = model(noisy, sigma)
    g1, g2 = subsample(noisy, first), subsample(noisy, second)
    diff = model(g1, subsample(sigma, first)) - g2
    expected = subsample(full, first) - subsample(full, second)
    rec = diff.pow(2).mean()
    reg = (diff - expected).pow(2).mean()
    return rec + gamma * reg, {"rec": float(rec.detach()), "reg": float(reg.detach())}


def neighbor2neighbor_elbo(
    model: torch.nn.Module, noisy: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator,
    gamma: float, free_bits: float = 0.0, kl_weight: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The conditional VAE's loss: Neighbor2Neighbor's on the z = 0 decode, plus the negative
    ELBO of g2(y) under the Gaussian noise model for the decode of z ~ q(z | g1, g2, sigma).

    Per element the ELBO's likelihood is (g2 - f(g1, z))^2 / (2 sigma^2) (+ log sigma, which
    no weight changes), its KL is that of q to N(0, I) per latent position over the C x m^2
    elements each position covers (m: the model's multiple). Both are multiplied by 2 x the
    batch's mean sigma^2, which turns the likelihood into the AE's squared error (exactly so
    when the batch has one noise level), so the AE's settings suit it, and leaves the ELBO's
    balance of likelihood and KL as it is. ``kl_weight`` replaces that balance if given;
    ``free_bits`` (nats per latent channel, as in the supervised recipe) are never charged.
    """
    first, second = neighbour_pairs(noisy.shape[0], *noisy.shape[2:], gen)
    with torch.no_grad():
        full = model(noisy, sigma)[0]
    g1, g2 = subsample(noisy, first), subsample(noisy, second)
    sampled, mean, mu, logvar = model(g1, subsample(sigma, first), g2)
    diff = mean - g2
    expected = subsample(full, first) - subsample(full, second)
    rec = diff.pow(2).mean()
    reg = (diff - expected).pow(2).mean()
    var = subsample(sigma, second).pow(2).clamp(min=(1 / 255) ** 2)  # a 0 estimate: no infinity
    scale = var.mean()
    nll = ((sampled - g2).pow(2) / var).mean() * scale
    kl = kl_to_standard_normal(mu, logvar)
    beta = 2 * scale / (model.channels * model.multiple**2) if kl_weight is None else kl_weight
    penalty = free_bits_kl(mu, logvar, free_bits) if free_bits else kl
    loss = rec + gamma * reg + nll + beta * penalty
    return loss, {"rec": float(rec.detach()), "reg": float(reg.detach()),
                  "nll": float(nll.detach()), "kl": float(kl.detach())}


@dataclass
class NoisyPatches:
    """Random crops of noisy images with each image's own (estimated) noise-level map.

    Images are C x H x W, uint8 (decoded files, kept small in memory) or float32 in 0..1
    (synthetic noise, unclipped). Each batch gets one random flip/rotation; the noise level
    of each patch is its image's estimate times a small random factor, because an estimate
    is only that and the app may feed a slightly different level.
    """

    images: Sequence[torch.Tensor]
    sigmas: Sequence[float]  # 0-255 scale, one per image
    patch: int = 128
    jitter: float = 0.1

    def batch(self, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(noisy, sigma_map): N x C x P x P and N x 1 x P x P, float32, sigma in 0..1 units."""
        p = self.patch
        crops, levels = [], []
        for i in torch.randint(len(self.images), (size,), generator=gen).tolist():
            img = self.images[i]
            y, x = (int(torch.randint(n - p + 1, (1,), generator=gen)) for n in img.shape[1:])
            crop = img[:, y : y + p, x : x + p]
            crops.append(crop.float() / 255.0 if crop.dtype == torch.uint8 else crop.float())
            levels.append(self.sigmas[i] / 255.0)
        noisy = torch.stack(crops)
        k = int(torch.randint(8, (1,), generator=gen))
        noisy = torch.rot90(noisy, k % 4, dims=(2, 3))
        noisy = noisy.flip(3) if k >= 4 else noisy
        factor = 1.0 + self.jitter * (2 * torch.rand(size, generator=gen) - 1)
        sigma = (torch.tensor(levels) * factor).view(size, 1, 1, 1).expand(size, 1, p, p)
        return noisy.contiguous(), sigma.contiguous()
