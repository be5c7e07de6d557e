"""How much of supervised training self-supervised fine-tuning recovers, where the truth is known.

    python benchmarks/selfsup.py --data ../shared/datasets --minutes 15 --threads 1

Noisy-only copies of Train400 (grey) are made in memory under the evaluation protocol
(``add_gaussian_noise(clean, 25, seed=index)``, never written anywhere); a grey ``unet_ae``
with the architecture of training/recipes/ae-gray.yaml starts UNTRAINED (its zero-initialised
tail makes it the identity) and is trained by ``training.finetune`` with the Neighbor2Neighbor
loss on those noisy copies alone, each with its noise level estimated as for a user's photos.
The first ``--limit`` BSD68 images at sigma 25 (``training.evaluate``) then score the start,
the self-supervised result and the supervised grey model: the first that exists of
resources/models/ae-gray.onnx, training/checkpoints/ae-gray.pt, runs/ae-gray/last.pt. The
share of the gap is (self-supervised - start) / (supervised - start).
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
from training.selfsup import NoisyPatches  # noqa: E402
from training.train import load_recipe  # noqa: E402

SIGMA = 25.0
SUPERVISED = ("resources/models/ae-gray.onnx", "training/checkpoints/ae-gray.pt",
              "runs/ae-gray/last.pt")


def noisy_copies(folder: Path, limit: int | None, patch: int) -> NoisyPatches:
    """Protocol-noisy float copies (unclipped, seeded by index) and their estimated levels."""
    images, sigmas = [], []
    for i, path in enumerate(list_images(folder)[:limit]):
        clean = load_image(path, 1).astype("float32") / 255.0
        noisy = add_gaussian_noise(clean, SIGMA, seed=i)
        images.append(torch.from_numpy(noisy).permute(2, 0, 1))
        sigmas.append(estimate_sigma(noisy))
    return NoisyPatches(images, sigmas, patch)


def untrained_state(seed: int) -> dict:
    """A checkpoint state of the grey recipe's network at initialisation (the identity)."""
    recipe = load_recipe(ROOT / "training" / "recipes" / "ae-gray.yaml")
    recipe = {**recipe, "name": "ae-gray-selfsup"}
    torch.manual_seed(seed)
    net = build(**recipe["arch"])
    return {"arch": recipe["arch"], "model": net.state_dict(), "step": 0, "recipe": recipe,
            "source": {"path": "untrained", "name": "untrained", "step": 0}}


def score(model: Path, test: Path, limit: int, threads: int) -> float:
    """Mean PSNR (dB) at sigma 25 on the first ``limit`` test images, by training.evaluate."""
    res = evaluate(model, test, [SIGMA], limit=limit, threads=threads)
    return next(iter(res["methods"].values()))[f"{SIGMA:g}"]["psnr"]


def steps_of(model: Path) -> str:
    """How far the reference model had trained: it may still be training while we measure."""
    if model.suffix == ".onnx":
        from denoiser.models import load_model_info

        return load_model_info(model).metadata.get("training_steps", "?")
    return str(checkpoint.load(model)["step"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the shared datasets folder")
    p.add_argument("--minutes", type=float, default=15.0, help="self-supervised training budget")
    p.add_argument("--limit", type=int, default=20, help="BSD68 images to score")
    p.add_argument("--train-limit", type=int, help="only the first N Train400 images")
    p.add_argument("--lr", type=float, default=5e-4, help="from scratch: higher than fine-tuning")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=96)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    test = args.data / "test" / "BSD68"
    patches = noisy_copies(args.data / "train" / "Train400", args.train_limit, args.patch)
    settings = Settings(lr=args.lr, batch=args.batch, patch=args.patch)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        state = untrained_state(settings.seed)
        checkpoint.save(run / "start.pt", state)
        start = score(run / "start.pt", test, args.limit, args.threads)
        state = finetune(state, patches, args.minutes, settings, run / "run", threads=args.threads)
        selfsup = score(run / "run" / "last.pt", test, args.limit, args.threads)
    ref = next((r for r in SUPERVISED if (ROOT / r).is_file()), None)
    supervised = score(ROOT / ref, test, args.limit, args.threads) if ref else float("nan")
    reference = f"{ref} (step {steps_of(ROOT / ref)})" if ref else "none"
    share = (selfsup - start) / (supervised - start)
    figures = {"data": f"BSD68 (first {args.limit}), sigma 25",
               "train": f"Train400 noisy only ({len(patches.images)} images), "
                        f"{args.minutes:g} min, {state['step']} steps, {args.threads} thread(s)",
               "start_untrained": round(start, 2), "self_supervised": round(selfsup, 2),
               "supervised": round(supervised, 2), "supervised_model": reference,
               "share_of_gap": round(share, 3),
               "command": "python benchmarks/selfsup.py " + " ".join(argv or sys.argv[1:])}
    for key, value in figures.items():
        print(f"{key:>16}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
