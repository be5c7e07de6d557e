"""Adapt a trained AE or VAE denoiser to a folder of your noisy photos, with no clean references.

``python -m training.finetune --model ae-color --noisy ~/Pictures/noisy --minutes 20``

The model is trained self-supervised (Neighbor2Neighbor, see training/selfsup.py; a
conditional VAE also learns its latent from the ELBO with the noise model as its likelihood)
on patches of the noisy photos only, each with its noise level estimated once as the app's
Auto strength does (``denoiser.strength.auto_sigma``), for a time budget; then it is exported
to ONNX into the app's user models folder, where the app lists it beside the shipped models.
A checkpoint trained for its int8 graph (learnt ranges) is adapted under that rounding and
written as int8 too: in float32 the shipped ae-color runs about three times slower.
An ONNX file cannot be trained, so a shipped model's name is mapped to the checkpoint it was
exported from (training/checkpoints/RUN.pt, RUN the name in its recipe); a training
checkpoint (.pt) may be given instead. Running the same command again continues from the run
folder's checkpoint with a fresh budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm import tqdm

from denoiser.errors import ModelError
from denoiser.models import find_model, user_models_dir
from denoiser.strength import auto_sigma
from training import checkpoint, qat
from training.data import list_images, load_image
from training.export import export, noise_type
from training.quantize import Calibration, quantize
from training.selfsup import NoisyPatches, neighbor2neighbor_elbo, neighbor2neighbor_loss
from training.train import learning_rate

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"


@dataclass
class Settings:
    """Optimisation settings; the defaults suit fine-tuning a trained model on a 2-core CPU."""

    lr: float = 1e-4
    lr_min: float = 1e-6
    batch: int = 8
    patch: int = 128  # sub-images are half this, so it must be a multiple of 2 x the model's
    gamma: float = 2.0  # final regulariser weight, reached by a linear ramp (as in the paper)
    jitter: float = 0.1
    seed: int = 0
    ckpt_every: int = 100
    kl_weight: float | None = None  # VAE: None weighs the KL as the noise model's ELBO does


# How a quantisation-aware run's float32 export becomes its int8 graph beyond what its recipe
# says: layers at twice the input's resolution or finer, and the stem and tail, stay float32,
# as for every int8-aware recipe (their headers; docs/models.md's reproduce block).
INT8_EXPORT = {"float_scale": 2.0, "float_ends": True}

SCHEMES = {
    "unet_ae": ("neighbor2neighbor", "Neighbor2Neighbor"),
    "unet_cvae": ("neighbor2neighbor+noise-model-elbo",
                  "Neighbor2Neighbor on the deterministic path; the latent from the ELBO with "
                  "the Gaussian noise model as the likelihood"),
}


def resolve_checkpoint(model: str, checkpoints: Path = CHECKPOINTS) -> Path:
    """The checkpoint to start from: ``model`` itself if it is a .pt, else the one a shipped
    model (by name or .onnx file) was exported from: ``checkpoints/RUN.pt``, RUN being the
    name in the model's recipe (a later stage, say ``ae-color-p160``, ships as ``ae-color``),
    or else the model's own name."""
    if model.endswith(".pt"):
        if not Path(model).is_file():
            raise SystemExit(f"no such checkpoint: {model}")
        return Path(model)
    runs = _runs_behind(model)
    for run in runs:
        if (checkpoints / f"{run}.pt").is_file():
            return checkpoints / f"{run}.pt"
    known = ", ".join(sorted(p.stem for p in checkpoints.glob("*.pt"))) or "none"
    raise SystemExit(f"{model!r} has no training checkpoint (looked for "
                     f"{', '.join(f'{r}.pt' for r in runs)} in {checkpoints}; checkpoints "
                     f"there: {known}). An ONNX model cannot be fine-tuned: pass a training "
                     "checkpoint (.pt) with --model.")


def _runs_behind(model: str) -> list[str]:
    """Run names whose checkpoint may be behind ``model``: its recipe's, then its own."""
    try:
        info = find_model(model)
    except ModelError:  # not an installed model or a readable file: take the name as given
        return [Path(model).name.removesuffix(".onnx")]
    try:
        recipe = yaml.safe_load(info.recipe) if info.recipe else None
    except yaml.YAMLError:  # a foreign file's free-form text: its name is all there is
        recipe = None
    run = recipe.get("name") if isinstance(recipe, dict) else None
    return list(dict.fromkeys(r for r in (run, info.name) if r))


def load_noisy(folder: Path, channels: int, sigma: float | None = None,
               noise: str = "gaussian") -> tuple[list[torch.Tensor], list[float]]:
    """The folder's images as uint8 C x H x W tensors, and each one's noise level: ``sigma``
    if given, else the app's Auto level for a model trained on ``noise`` (``auto_sigma``:
    correlated noise, as in real photos and scans, is read in full), so that the noise map
    the model learns with is the one the app will give it."""
    if not folder.is_dir():
        raise SystemExit(f"no such image folder: {folder}")
    images, sigmas = [], []
    for path in list_images(folder):
        arr = load_image(path, channels)
        images.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))
        sigmas.append(auto_sigma(arr, noise_type=noise) if sigma is None else sigma)
    if not images:
        raise SystemExit(f"no images in {folder}")
    return images, sigmas


def usable(images: list[torch.Tensor], sigmas: list[float], patch: int) -> NoisyPatches:
    """The patch sampler over the images large enough for one patch."""
    keep = [i for i, im in enumerate(images) if min(im.shape[1:]) >= patch]
    if not keep:
        raise SystemExit(f"every image is smaller than the {patch}-pixel patch; try --patch")
    if len(keep) < len(images):
        print(f"skipping {len(images) - len(keep)} images smaller than {patch} px",
              file=sys.stderr)
    return NoisyPatches([images[i] for i in keep], [sigmas[i] for i in keep], patch)


def start_state(source: Path, run_dir: Path, name: str) -> dict[str, Any]:
    """The run folder's checkpoint if there is one (resume), else a new run from ``source``."""
    last = run_dir / "last.pt"
    if last.exists():
        print(f"resuming from {last}", file=sys.stderr)
        return checkpoint.load(last)
    base = checkpoint.load(source)
    if base["arch"]["name"] not in SCHEMES:
        raise SystemExit(f"{source} is a {base['arch']['name']}; only {', '.join(SCHEMES)} can "
                         "be fine-tuned without clean images")
    recipe = {**base["recipe"], "name": name}
    state = {"arch": base["arch"], "model": base.get("ema") or base["model"], "step": 0,
             "recipe": recipe, "source": {"path": str(source), "name": base["recipe"]["name"],
                                          "step": base.get("step", 0)}}
    if base.get("qat_ranges"):  # trained for its int8 graph: adapt it under the same rounding
        state["qat_ranges"] = base["qat_ranges"]
    return state


def _int8_training(state: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's quantisation-aware settings if it holds learnt ranges, else {}."""
    cfg = state["recipe"].get("train", {}).get("qat") or {}
    return cfg if cfg and state.get("qat_ranges") else {}


def rounding_for(model: torch.nn.Module, state: dict[str, Any]) -> qat.Rounding | None:
    """The int8 rounding a quantisation-aware checkpoint trained under, its ranges loaded, so
    that the adapted network still computes as its int8 export will; None for float32."""
    cfg = _int8_training(state)
    if not cfg:
        return None
    # no training pictures here to measure ranges on: the checkpoint's are loaded and kept
    return qat.from_config(cfg, model, model, [], state["qat_ranges"], every=0)


def write_model(ckpt: Path, out: Path, state: dict[str, Any], calib: Path,
                extra: dict[str, str]) -> str:
    """Export ``ckpt`` to ``out``, as the int8 graph it was trained for if it rounds (the
    shipped ``ae-color`` does: in float32 it would run about three times slower), else in
    float32; returns the precision. ``calib``: images for onnxruntime's calibration pass,
    whose ranges the learnt ones then replace."""
    cfg = _int8_training(state)
    if not cfg:
        export(ckpt, out, "1.0.0", [], extra=extra)
        return "float32"
    with tempfile.TemporaryDirectory() as tmp:
        flat = Path(tmp) / "float32.onnx"
        export(ckpt, flat, "1.0.0", [], extra=extra)
        quantize(flat, out, "static", calib, Calibration(), reduce_range=bool(
                     cfg.get("reduce_range")), float_adds=bool(cfg.get("float_adds")),
                 learnt=ckpt, name=state["recipe"]["name"],
                 float_layers=cfg.get("float_layers", ()), **INT8_EXPORT)
    return "int8"


def loss_for(state: dict[str, Any], settings: Settings) -> Callable[..., Any]:
    """The self-supervised loss of the checkpoint's architecture, with the VAE's KL settings
    (the free bits come from the recipe the model was trained with)."""
    if state["arch"]["name"] == "unet_ae":
        return neighbor2neighbor_loss
    free_bits = state["recipe"].get("vae", {}).get("free_bits", 0.0)
    return partial(neighbor2neighbor_elbo, free_bits=free_bits, kl_weight=settings.kl_weight)


def finetune(state: dict[str, Any], patches: NoisyPatches, minutes: float,
             settings: Settings, run_dir: Path, max_steps: int | None = None,
             threads: int = 2) -> dict[str, Any]:
    """Train until the budget (or ``max_steps``) is spent; checkpoint to ``run_dir/last.pt``.

    The learning rate follows train.py's warm-up and cosine schedule, and gamma its linear
    ramp, over the fraction of the budget spent (time or steps, whichever is further along).
    The returned state's ``losses`` are running means of the loss parts (the VAE's ``kl`` is
    in nats per latent position).
    """
    torch.set_num_threads(threads)
    torch.manual_seed(settings.seed)
    model = checkpoint.model_from(state).train()
    rounding = rounding_for(model, state)
    if (patches.patch // 2) % model.multiple:
        raise SystemExit(f"the patch size must be a multiple of {2 * model.multiple}")
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(settings.seed)
    if "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
    schedule = {"lr": settings.lr, "lr_min": settings.lr_min, "warmup": 20, "steps": 1000}
    start, budget = state["step"], minutes * 60
    step, running, t0 = start, {}, time.time()
    loss_fn = loss_for(state, settings)

    def save() -> dict[str, Any]:
        new = {**state, "model": model.state_dict(), "optimizer": opt.state_dict(),
               "generator": gen.get_state(), "step": step, "losses": running}
        if rounding is not None:
            new["qat_ranges"] = rounding.state()
        checkpoint.save(run_dir / "last.pt", new)
        return new

    bar = tqdm(total=round(budget), unit="s", desc=f"fine-tuning {state['recipe']['name']}",
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s{postfix}",
               mininterval=2, file=sys.stderr, dynamic_ncols=True)
    while True:
        elapsed = time.time() - t0
        progress = max(elapsed / budget, (step - start) / max_steps if max_steps else 0.0)
        if progress >= 1.0:
            break
        lr = learning_rate(int(progress * schedule["steps"]), schedule)
        for g in opt.param_groups:
            g["lr"] = lr
        noisy, sigma = patches.batch(settings.batch, gen)
        loss, parts = loss_fn(model, noisy, sigma, gen, settings.gamma * progress)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if rounding is not None:  # learnt ranges move with the weights
            rounding.after_step(step, lr)
        step += 1
        running = {k: v if k not in running else 0.95 * running[k] + 0.05 * v
                   for k, v in parts.items()}
        kl = f", KL {running['kl']:.3f}" if "kl" in running else ""
        bar.set_postfix_str(f"step {step}, loss {running['rec']:.5f}{kl}", refresh=False)
        bar.update(min(elapsed, budget) - bar.n)
        if step % settings.ckpt_every == 0:
            save()
    bar.close()
    return save()


def describe(state: dict[str, Any], images: int) -> dict[str, str]:
    """Metadata entries that say where the model came from and how it was adapted."""
    src = state["source"]
    origin = f"{src['name']} (checkpoint {Path(src['path']).name}, step {src['step']})"
    scheme, label = SCHEMES[state["arch"]["name"]]
    note = (f"Fine-tuned from {src['name']} on {images} user images, self-supervised "
            f"({label}, no clean references).")
    how = {"scheme": scheme, "supervision": "self-supervised", "images": images,
           "steps": state["step"]}
    if "kl" in state.get("losses", {}):
        how["kl_per_position"] = round(state["losses"]["kl"], 4)
    return {
        "description": f"{state['recipe'].get('description', '')} {note}".strip(),
        "fine_tuned_from": origin,
        "fine_tuning": json.dumps(how),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True,
                   help="shipped model name or .onnx (its checkpoint is used), or a checkpoint .pt")
    p.add_argument("--noisy", type=Path, required=True, help="folder of your noisy images")
    p.add_argument("--minutes", type=float, default=10.0, help="training time budget")
    p.add_argument("--sigma", type=float,
                   help="noise level (0-255) for every image instead of each one's estimate")
    p.add_argument("--steps", type=int, help="stop after this many steps if sooner")
    p.add_argument("--out", help="name of the new model (default: <model>-own)")
    p.add_argument("--out-dir", type=Path, help="where the .onnx goes (default: user models)")
    p.add_argument("--run-dir", type=Path, help="checkpoint folder (default runs/finetune/NAME)")
    p.add_argument("--lr", type=float, default=Settings.lr)
    p.add_argument("--batch", type=int, default=Settings.batch)
    p.add_argument("--patch", type=int, default=Settings.patch)
    p.add_argument("--kl-weight", type=float,
                   help="VAE: weight of the KL (default: as the noise model's ELBO weighs it)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    source = resolve_checkpoint(args.model)
    name = args.out or f"{checkpoint.load(source)['recipe']['name']}-own"
    run_dir = args.run_dir or Path("runs") / "finetune" / name
    state = start_state(source, run_dir, name)
    images, sigmas = load_noisy(args.noisy, state["arch"]["channels"], args.sigma,
                                noise_type(state["recipe"]))
    print(f"{len(images)} images; estimated noise sigma "
          f"{min(sigmas):.1f}..{max(sigmas):.1f} (0-255 scale)", file=sys.stderr)
    settings = Settings(lr=args.lr, batch=args.batch, patch=args.patch, kl_weight=args.kl_weight)
    patches = usable(images, sigmas, settings.patch)
    state = finetune(state, patches, args.minutes, settings, run_dir, args.steps, args.threads)
    out = (args.out_dir or user_models_dir()) / f"{name}.onnx"
    precision = write_model(run_dir / "last.pt", out, state, args.noisy,
                            describe(state, len(patches.images)))
    print(f"wrote {out} ({precision}) after {state['step']} steps; the app lists it as '{name}'")
    if "kl" in state["losses"]:  # near 0 would mean the latent is unused: samples all alike
        print(f"latent in use: KL {state['losses']['kl']:.3f} nats per position")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
