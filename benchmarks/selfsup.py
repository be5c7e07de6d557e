"""How much of supervised training self-supervised fine-tuning recovers, where the truth is known.

    python benchmarks/selfsup.py --data ../shared/datasets --minutes 15 --threads 1

Noisy-only copies of Train400 (grey) are made in memory under the evaluation protocol
(``add_gaussian_noise(clean, 25, seed=index)``, never written anywhere); a grey ``unet_ae``
with the architecture of training/recipes/ae-gray.yaml starts UNTRAINED (its zero-initialised
tail makes it the identity) and is trained by ``training.finetune`` with the Neighbor2Neighbor
loss on those noisy copies alone, each with its noise level estimated as for a user's photos.
The first ``--limit`` BSD68 images at sigma 25 (``training.evaluate``) then score the start,
the self-supervised result and the supervised grey model: the first that exists of
resources/models/ae-gray.onnx, runs/ae-gray/last.pt. The
share of the gap is (self-supervised - start) / (supervised - start).

``--vae`` does the same for the conditional VAE of that network (``unet_cvae``, the latent
size and KL settings of training/recipes/vae-color.yaml), also untrained: its deterministic
output (z = 0) is scored against the same supervised AE, and it adds the KL per latent position
of the posterior on fresh training pairs (near 0 would mean a collapsed latent) and, from
``--samples`` draws at temperature 1 (``training.uncertainty``), the mean sample spread and the
Spearman correlation of spread and error over 16-pixel blocks.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from denoiser.noise import add_gaussian_noise, estimate_sigma  # noqa: E402
from training import checkpoint  # noqa: E402
from training.archs import build  # noqa: E402
from training.data import list_images, load_image  # noqa: E402
from training.evaluate import evaluate  # noqa: E402
from training.finetune import Settings, finetune  # noqa: E402
from training.losses import kl_per_channel  # noqa: E402
from training.selfsup import NoisyPatches, neighbour_pairs, subsample  # noqa: E402
from training.train import load_recipe  # noqa: E402

SIGMA = 25.0
SUPERVISED = ("resources/models/ae-gray.onnx", "runs/ae-gray/last.pt")


def noisy_copies(folder: Path, limit: int | None, patch: int) -> NoisyPatches:
    """Protocol-noisy float copies (unclipped, seeded by index) and their estimated levels."""
    images, sigmas = [], []
    for i, path in enumerate(list_images(folder)[:limit]):
        clean = load_image(path, 1).astype("float32") / 255.0
        noisy = add_gaussian_noise(clean, SIGMA, seed=i)
        images.append(torch.from_numpy(noisy).permute(2, 0, 1))
        sigmas.append(estimate_sigma(noisy))
    return NoisyPatches(images, sigmas, patch)


def untrained_state(seed: int, vae: bool = False) -> dict:
    """A checkpoint state of the grey recipe's network at initialisation (the identity), or
    of its conditional VAE with vae-color's latent and KL settings."""
    recipe = load_recipe(ROOT / "training" / "recipes" / "ae-gray.yaml")
    recipe = {**recipe, "name": "ae-gray-selfsup"}
    if vae:
        color = load_recipe(ROOT / "training" / "recipes" / "vae-color.yaml")
        arch = {**recipe["arch"], "name": "unet_cvae", "latent": color["arch"]["latent"]}
        recipe = {**recipe, "name": "vae-gray-selfsup", "arch": arch, "vae": color["vae"]}
    torch.manual_seed(seed)
    net = build(**recipe["arch"])
    return {"arch": recipe["arch"], "model": net.state_dict(), "step": 0, "recipe": recipe,
            "source": {"path": "untrained", "name": "untrained", "step": 0}}


def score(model: Path, test: Path, limit: int, threads: int, samples: int = 0) -> dict:
    """Mean PSNR (dB) at sigma 25 on the first ``limit`` test images, by training.evaluate,
    and with ``samples`` a VAE's spread figures (training.uncertainty)."""
    res = evaluate(model, test, [SIGMA], limit=limit, threads=threads, vae_samples=samples)
    psnr = next(iter(res["methods"].values()))[f"{SIGMA:g}"]["psnr"]
    return {"psnr": psnr, **res.get("vae", {})}


@torch.no_grad()
def latent_use(model: Path, patches: NoisyPatches, batches: int = 8, seed: int = 1) -> list[float]:
    """KL of each latent channel (nats per position) of the posterior on fresh training pairs
    (g1, g2) of the noisy patches, as the self-supervised loss draws them."""
    net = checkpoint.model_from(checkpoint.load(model))
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(net.latent)
    for _ in range(batches):
        noisy, sigma = patches.batch(8, gen)
        first, second = neighbour_pairs(noisy.shape[0], *noisy.shape[2:], gen)
        g1, g2 = subsample(noisy, first), subsample(noisy, second)
        total += kl_per_channel(*net.posterior(g1, g2, subsample(sigma, first)))
    return (total / batches).tolist()


def steps_of(model: Path) -> str:
    """How far the reference model had trained: it may still be training while we measure."""
    if model.suffix == ".onnx":
        from denoiser.models import load_model_info

        return load_model_info(model).metadata.get("training_steps", "?")
    return str(checkpoint.load(model)["step"])


def vae_figures(model: Path, scored: dict, patches: NoisyPatches, samples: int) -> dict:
    """The latent's use (KL) and the quality of the samples' spread as an uncertainty map."""
    kl = latent_use(model, patches)
    return {"kl_per_position": round(sum(kl), 3), "kl_per_channel": [round(k, 3) for k in kl],
            "samples": samples, "spread_mean_255": round(scored["spread_mean_255"], 3),
            "spread_error_spearman": round(scored["spread_error_spearman"], 3),
            "within_2_spread": round(scored["within_2_spread"], 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the shared datasets folder")
    p.add_argument("--minutes", type=float, default=15.0, help="self-supervised training budget")
    p.add_argument("--steps", type=int, help="stop after this many steps if sooner (trials)")
    p.add_argument("--limit", type=int, default=20, help="BSD68 images to score")
    p.add_argument("--train-limit", type=int, help="only the first N Train400 images")
    p.add_argument("--lr", type=float, default=5e-4, help="from scratch: higher than fine-tuning")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=96)
    p.add_argument("--vae", action="store_true", help="the conditional VAE instead of the AE")
    p.add_argument("--samples", type=int, default=8, help="VAE: draws for the spread figures")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    test = args.data / "test" / "BSD68"
    patches = noisy_copies(args.data / "train" / "Train400", args.train_limit, args.patch)
    settings = Settings(lr=args.lr, batch=args.batch, patch=args.patch)
    samples = args.samples if args.vae else 0
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        state = untrained_state(settings.seed, args.vae)
        checkpoint.save(run / "start.pt", state)
        start = score(run / "start.pt", test, args.limit, args.threads)["psnr"]
        state = finetune(state, patches, args.minutes, settings, run / "run", args.steps,
                         threads=args.threads)
        scored = score(run / "run" / "last.pt", test, args.limit, args.threads, samples)
        extra = vae_figures(run / "run" / "last.pt", scored, patches, samples) if args.vae else {}
    selfsup = scored["psnr"]
    ref = next((r for r in SUPERVISED if (ROOT / r).is_file()), None)
    supervised = score(ROOT / ref, test, args.limit, args.threads)["psnr"] if ref else float("nan")
    reference = f"{ref} (step {steps_of(ROOT / ref)})" if ref else "none"
    share = (selfsup - start) / (supervised - start)
    figures = {"data": f"BSD68 (first {args.limit}), sigma 25",
               "model": f"{state['arch']['name']} ({state['recipe']['name']}), untrained start",
               "train": f"Train400 noisy only ({len(patches.images)} images), {args.minutes:g} "
                        f"min budget, {state['step']} steps, {args.threads} thread(s)",
               "start_untrained": round(start, 2), "self_supervised": round(selfsup, 2),
               "supervised": round(supervised, 2), "supervised_model": reference,
               "share_of_gap": round(share, 3), **extra,
               "command": "python benchmarks/selfsup.py " + " ".join(argv or sys.argv[1:])}
    for key, value in figures.items():
        print(f"{key:>21}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
