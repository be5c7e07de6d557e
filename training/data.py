"""Training data: any folder of images becomes an endless stream of noisy/clean patches.

Images are decoded once into memory (a few hundred MB at most) and patches are cut on the
fly in the training process itself: on a 2-core machine a loader process would only steal
cycles from the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, JpegImagePlugin

from denoiser.noise import add_gaussian_noise
from training.dead_leaves import dead_leaves
from training.noise_synth import NoiseParams, synthesize

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(folder: str | Path) -> list[Path]:
    """Image files below ``folder`` in sorted order (the order the protocol seeds by)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such image folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def load_image(path: Path, channels: int) -> np.ndarray:
    """Decode to uint8 H x W x C with C = ``channels`` (colour sets turn grey for grey models)."""
    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        arr = np.asarray(im, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def colour_resolution(path: Path) -> float:
    """The share of the image's resolution its colour was stored at: 0.5 for a JPEG with
    4:2:0 or 4:2:2 chroma subsampling (most camera and web JPEGs), 1 otherwise."""
    with Image.open(path) as im:
        if im.format != "JPEG" or im.mode != "RGB":
            return 1.0
        return 0.5 if JpegImagePlugin.get_sampling(im) in (1, 2) else 1.0


def usable_scales(path: Path, scales: Sequence[float], full_colour: bool) -> list[float]:
    """The scales to take ``path`` at; with ``full_colour``, only those at which its colour
    has every pixel's worth of detail (a 4:2:0 JPEG at half size or less), or that size
    alone if none of ``scales`` is small enough, so that no picture drops out.

    Why: a model that learns from half-resolution colour learns to blur colour edges, and
    on photographs with sharp colour detail CBM3D keeps nearly twice as much of it.
    """
    if not full_colour:
        return list(scales)
    limit = colour_resolution(path)
    return [s for s in scales if s <= limit] or [limit]


def rescaled(arr: np.ndarray, scale: float) -> np.ndarray:
    """Downscale with a good filter: finer detail per pixel than the source has."""
    if scale == 1.0:
        return arr
    h, w = arr.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    mode = "L" if arr.shape[2] == 1 else "RGB"
    im = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode).resize(size, Image.BICUBIC)
    out = np.asarray(im, dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


@dataclass
class PatchSampler:
    """Random patches with dihedral flips, channel shuffles and per-patch Gaussian noise levels."""

    images: list[torch.Tensor]  # each C x H x W uint8
    patch: int = 96
    sigma_max: float = 75.0
    channel_shuffle: bool = True
    noise: NoiseParams | None = None  # camera-like noise; None: white Gaussian, as evaluated
    detail_share: float = 0.0  # share of patches that are the most detailed of several crops
    detail_candidates: int = 4
    gain_low: float = 1.0  # per-channel colour gains drawn from [gain_low, 1]; 1: none
    gain_share: float = 1.0  # share of colour patches that get them
    saturation_max: float = 1.0  # those patches' colour also scaled by 1..saturation_max
    leaves_share: float = 0.0  # share of patches that are dead-leaves pictures (dead_leaves.py)
    sigma_power: float = 1.0  # sigma = sigma_max * u ** power, u uniform: above 1, more weak noise

    def __post_init__(self) -> None:
        if self.sigma_power != 1.0 and self.noise is not None:  # it would be silently ignored
            raise ValueError("sigma_power shapes the white Gaussian levels only; camera-like "
                             "noise draws its own (training.noise_synth)")

    @classmethod
    def from_folders(
        cls,
        folders: Iterable[str | Path],
        channels: int,
        scales: Sequence[float] = (1.0,),
        exclude: Iterable[Path] = (),
        full_colour: bool = False,
        **kwargs,
    ) -> PatchSampler:
        skip = {Path(p).resolve() for p in exclude}
        images = []
        for folder in folders:
            for path in list_images(folder):
                if path.resolve() in skip:
                    continue
                arr = load_image(path, channels)
                for s in usable_scales(path, scales, full_colour and channels == 3):
                    img = rescaled(arr, s)
                    if min(img.shape[:2]) >= kwargs.get("patch", 96):
                        images.append(torch.from_numpy(img.copy()).permute(2, 0, 1))
        if not images:
            raise ValueError(f"no usable training images in {list(folders)}")
        return cls(images, **kwargs)

    def _crop(self, img: torch.Tensor, tries: int, gen: torch.Generator) -> torch.Tensor:
        """A random crop, or the most detailed of ``tries`` random crops.

        Why: on photographs the model beat CBM3D on flat regions and lost on fine structure,
        and a uniform crop is mostly flat; part of each batch therefore looks for detail.
        """
        p, crops = self.patch, []
        for _ in range(tries):
            y = int(torch.randint(img.shape[1] - p + 1, (1,), generator=gen))
            x = int(torch.randint(img.shape[2] - p + 1, (1,), generator=gen))
            crops.append(img[:, y : y + p, x : x + p])
        return crops[0] if tries == 1 else _most_detailed(crops)

    def batch(self, size: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Return (clean, noisy, sigma_map), each float32 N x C x P x P (sigma: N x 1 x P x P)."""
        p = self.patch
        idx = torch.randint(len(self.images), (size,), generator=gen).tolist()
        crops, leaves = [], size - round(self.leaves_share * size)
        for n, i in enumerate(idx):
            tries = self.detail_candidates if n < round(self.detail_share * size) else 1
            if n >= leaves:
                seed = int(torch.randint(2**31, (1,), generator=gen))
                crop = dead_leaves(p, self.images[i].shape[0], np.random.default_rng(seed))
            else:
                crop = self._crop(self.images[i], tries, gen)
            k = int(torch.randint(8, (1,), generator=gen))
            crop = torch.rot90(crop, k % 4, dims=(1, 2))
            if k >= 4:
                crop = TF.horizontal_flip(crop)
            if self.channel_shuffle and crop.shape[0] == 3:
                crop = crop[torch.randperm(3, generator=gen)]
            crops.append(crop)
        clean = torch.stack(crops).float() / 255.0
        if (self.gain_low < 1.0 or self.saturation_max > 1.0) and clean.shape[1] == 3:
            clean = self._recolour(clean, gen)
        if self.noise is not None:
            return (clean, *synthesize(clean, gen, self.noise))
        sigma = self._levels(size, gen)
        noise = torch.randn(clean.shape, generator=gen) * sigma
        sigma_map = sigma.expand(size, 1, p, p).contiguous()
        return clean, clean + noise, sigma_map

    def _levels(self, size: int, gen: torch.Generator) -> torch.Tensor:
        """Per-patch noise levels (0..1 scale), N x 1 x 1 x 1.

        Why a power: uniform levels give strong noise (sigma > 50 of 75) a third of the patches,
        while photographs and scans are mostly weakly noisy, and the models lose most to their
        peers at low sigma; a power above 1 moves patches from strong noise to weak.
        """
        u = torch.rand(size, 1, 1, 1, generator=gen)
        return u.pow(self.sigma_power) * (self.sigma_max / 255.0)

    def _recolour(self, clean: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Random per-channel gains, the largest 1, as a white balance would, then the colour
        (each pixel's distance from its grey) scaled up, on a ``gain_share`` of the patches.

        Why: CBSD432's JPEGs store colour at half resolution (4:2:0), so their clean colour
        has almost no fine detail, and a model trained on them erases the fine colour detail
        photographs have. Unequal gains carry some fine luminance detail into colour; a
        stronger saturation makes the colour's own fine detail, and the whole picture's
        colour, more like a photograph's.
        """
        n = clean.shape[0]
        u = self.gain_low + (1.0 - self.gain_low) * torch.rand(n, 3, generator=gen)
        k = 1.0 + (self.saturation_max - 1.0) * torch.rand(n, 1, generator=gen)
        skip = torch.rand(n, 1, generator=gen) >= self.gain_share
        u = torch.where(skip, torch.ones_like(u), u / u.amax(dim=1, keepdim=True))
        k = torch.where(skip, torch.ones_like(k), k)
        x = clean * u[:, :, None, None]
        grey = x.mean(dim=1, keepdim=True)
        return (grey + k[:, :, None, None] * (x - grey)).clamp(0.0, 1.0)


def _most_detailed(crops: Sequence[torch.Tensor]) -> torch.Tensor:
    """The crop whose values spread the most: thin lines and texture rather than sky."""
    return max(crops, key=lambda c: float(c.float().std()))


def validation_set(
    paths: Sequence[Path], channels: int, sigma: float = 25.0, crop: int = 256
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre crops of held-in images with protocol noise: (clean, noisy, sigma_map)."""
    cleans, noisies = [], []
    for i, path in enumerate(paths):
        arr = load_image(path, channels).astype(np.float32) / 255.0
        h, w = arr.shape[:2]
        c = min(crop, h, w) // 16 * 16
        y, x = (h - c) // 2, (w - c) // 2
        arr = arr[y : y + c, x : x + c]
        cleans.append(torch.from_numpy(arr).permute(2, 0, 1))
        noisies.append(torch.from_numpy(add_gaussian_noise(arr, sigma, seed=i)).permute(2, 0, 1))
    size = min(t.shape[-1] for t in cleans)
    cleans = [t[..., :size, :size] for t in cleans]
    noisies = [t[..., :size, :size] for t in noisies]
    clean, noisy = torch.stack(cleans), torch.stack(noisies)
    sigma_map = torch.full((clean.shape[0], 1, *clean.shape[2:]), sigma / 255.0)
    return clean, noisy, sigma_map
