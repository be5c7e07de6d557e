"""Train a denoiser from a recipe (``python -m training.train --recipe RECIPE.yaml``).

One readable loop: sample a batch, forward, loss, step; validate and checkpoint every so
often; stop at the recipe's step count or the ``--max-minutes`` budget, whichever comes
first. Running it again resumes from the run folder's last checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torchvision.utils import save_image
from tqdm import tqdm

from training import checkpoint, distributed, qat
from training.archs import build
from training.data import PatchSampler, list_images, validation_set
from training.distill import Teacher
from training.losses import free_bits_kl, kl_to_standard_normal, kl_weight, reconstruction
from training.noise_synth import NoiseParams
from training.warm_start import warm_start

DEFAULT_DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def load_recipe(path: str | Path) -> dict[str, Any]:
    with open(path) as f:
        return yaml.safe_load(f)


def learning_rate(step: int, cfg: dict[str, Any], elapsed: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr_min`` at ``steps``.

    After resuming without optimizer state (``rewarm_from``), the rate ramps up again over
    ``warmup`` steps so that fresh Adam moments do not take full-size steps. ``elapsed`` is
    the share of a time budget used (0..1): the decay follows whichever of steps or time is
    further along, so a run on a busy machine still ends annealed at its deadline.
    """
    if step < cfg["warmup"]:
        return cfg["lr"] * (step + 1) / cfg["warmup"]
    t = min(1.0, (step - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"]))
    t = max(t, min(1.0, elapsed))
    lr = cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))
    since = step - cfg.get("rewarm_from", -cfg["warmup"])
    return lr * min(1.0, (since + 1) / cfg["warmup"])


def training_folder(data_root: Path, name: str) -> Path:
    """``name`` in the data root, or else a folder the project builds (``build/...``)."""
    shared = data_root / name
    return shared if shared.is_dir() or not Path(name).is_dir() else Path(name)


def make_data(recipe: dict[str, Any], data_root: Path):
    """Training sampler and the held-in validation crops (the last images of the first folder)."""
    d, channels = recipe["data"], recipe["arch"]["channels"]
    folders = [training_folder(data_root, f) for f in d["train"]]
    holdout = list_images(folders[0])[-d.get("val_holdout", 4):]
    noise = None
    if "camera_noise" in d:  # YAML lists become the tuples NoiseParams holds
        noise = NoiseParams(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in d["camera_noise"].items()})
    sampler = PatchSampler.from_folders(
        folders, channels, scales=d.get("scales", [1.0]), exclude=holdout,
        patch=d["patch"], sigma_max=d["sigma_max"], noise=noise,
        detail_share=d.get("detail_share", 0.0),
        gain_low=d.get("gain_low", 1.0), gain_share=d.get("gain_share", 1.0),
        saturation_max=d.get("saturation_max", 1.0), full_colour=d.get("full_colour", False),
        leaves_share=d.get("dead_leaves_share", 0.0),
        sigma_power=d.get("sigma_power", 1.0),
    )
    return sampler, validation_set(holdout, channels)


BF16_PROBES = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")


@functools.cache
def bf16_is_fast() -> bool:
    """Whether this CPU computes bf16 itself, with AMX tiles or AVX-512 BF16: there bf16
    autocast trains these U-Nets about twice as fast as float32 (``benchmarks/train_speed.py``
    measures it). Without either, oneDNN emulates bf16, ten times slower than float32 on an
    AMD EPYC without AVX-512 BF16."""
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in BF16_PROBES)


def uses_bf16(recipe: dict[str, Any]) -> bool:
    """``train.autocast``: ``bf16`` always, ``auto`` where :func:`bf16_is_fast`, else never.

    ``auto`` stays in float32 for quantisation-aware training, whose rounding must be the
    int8 graph's, which onnxruntime computes from float32 activations."""
    cfg = recipe["train"]
    mode = cfg.get("autocast")
    return mode == "bf16" or (mode == "auto" and not cfg.get("qat") and bf16_is_fast())


def autocast(recipe: dict[str, Any]):
    """bf16 autocast when the recipe asks for it (see :func:`uses_bf16`). Weights, optimizer
    and validation stay float32, so the exported float model is what validation measured."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=uses_bf16(recipe))


def compute_loss(model, clean, noisy, sigma, recipe, step, teacher=None):
    """Loss and its parts; the VAE adds the deterministic path and the annealed KL, a
    ``teacher`` (:class:`training.distill.Teacher`) its distillation terms."""
    with autocast(recipe):
        out = model(noisy, sigma, clean) if recipe["arch"]["name"] == "unet_cvae" else None
        out = out if out is not None else model(noisy, sigma)
    rec = reconstruction(recipe["train"], sigma)
    if recipe["arch"]["name"] == "unet_cvae":
        sampled, mean, mu, logvar = (t.float() for t in out)
        kl = kl_to_standard_normal(mu, logvar)
        v = recipe["vae"]
        beta = kl_weight(step, v["kl_weight"], v["kl_anneal_steps"])
        penalty = free_bits_kl(mu, logvar, v["free_bits"]) if v.get("free_bits") else kl
        loss = rec(sampled, clean) + rec(mean, clean) + beta * penalty
        return loss, {"rec": float(rec(mean, clean).detach()), "kl": float(kl.detach())}
    loss = rec(out.float(), clean)
    parts = {"rec": float(loss.detach())}
    if teacher is not None:
        with autocast(recipe):
            extra, more = teacher.loss(noisy, sigma, out, clean)
        loss, parts = loss + extra, parts | more
    return loss, parts


def train_step(net, model, opt, sampler, gen: torch.Generator, recipe: dict[str, Any],
               step: int, teacher=None) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimizer step on a fresh batch (``net`` is ``model``, or its DDP wrapper)."""
    cfg = recipe["train"]
    clean, noisy, sigma = (t.to(memory_format=torch.channels_last)
                           for t in sampler.batch(cfg["batch"], gen))
    loss, parts = compute_loss(net, clean, noisy, sigma, recipe, step, teacher)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.get("grad_clip", 1.0))
    opt.step()
    return loss, parts


@torch.no_grad()
def validate(model, val, sheet: Path | None = None) -> float:
    """Mean PSNR (dB) of the deterministic estimate on the validation crops, 8-bit protocol.

    With ``sheet``, also save a picture of noisy / denoised / clean for the first crops, to
    look at while a run goes on: PSNR alone hides smearing and artefacts.
    """
    model.eval()
    clean, noisy, sigma = val
    out = model(noisy, sigma)
    out = out[0] if isinstance(out, tuple) else out
    model.train()
    if sheet is not None:
        rows = [t[:4].clamp(0, 1) for t in (noisy, out, clean)]
        save_image(torch.cat(rows), sheet, nrow=min(4, len(clean)), padding=4, pad_value=1.0)
    mse = ((out.clamp(0, 1) * 255).round() - (clean * 255).round()).pow(2).mean(dim=(1, 2, 3))
    return float((10 * torch.log10(255.0**2 / mse)).mean())


class RunLog:
    """The main rank's CSV log and progress bar; other ranks get a silent stand-in."""

    def __init__(self, out_dir: Path, recipe: dict[str, Any], step: int, enabled: bool):
        self.enabled, self.t0 = enabled, time.time()
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "log.csv"
        new = not path.exists()
        if not new:  # seconds go on from the sitting before, so the log times the whole run
            self.t0 -= _drop_rows_after(path, step)
        self.file = open(path, "a", newline="")
        self.writer = csv.writer(self.file)
        if new:
            self.writer.writerow(["step", "seconds", "lr", "loss", "rec", "kl", "val_psnr"])
        self.bar = tqdm(total=recipe["train"]["steps"], initial=step, desc=recipe["name"],
                        mininterval=10, file=sys.stderr, dynamic_ncols=True)

    def row(self, step, lr, running, parts, val_psnr) -> None:
        if not self.enabled:
            return
        self.writer.writerow([step, round(time.time() - self.t0, 1), f"{lr:.3g}",
                              f"{running:.5f}", f"{parts['rec']:.5f}",
                              f"{parts.get('kl', 0):.4f}",
                              f"{val_psnr:.3f}" if val_psnr != "" else ""])
        self.file.flush()

    def tick(self, running: float, val_psnr) -> None:
        if self.enabled:
            self.bar.update(1)
            if val_psnr != "":
                self.bar.set_postfix(loss=f"{running:.4f}", val=f"{val_psnr:.2f}dB")

    def close(self) -> None:
        if self.enabled:
            self.bar.close()
            self.file.close()


def _drop_rows_after(path: Path, step: int) -> float:
    """Drop the log rows past the checkpoint a run resumes from: a run stopped between
    checkpoints logged steps that the resumed run does again, and the curves would show both.
    Return the seconds of the last row kept (0 if none)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = [r for r in rows if not (r and r[0].isdigit() and int(r[0]) > step)]
    if len(kept) < len(rows):
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(kept)
        tmp.replace(path)
    logged = [float(r[1]) for r in kept if r and r[0].isdigit()]
    return logged[-1] if logged else 0.0


def resume(last: Path, model, ema, opt, gen: torch.Generator,
           cfg: dict[str, Any]) -> tuple[int, float, dict[str, Any], list[dict[str, Any]]]:
    """Load a run's checkpoint into the training state; return (step, best PSNR, settings,
    the runs before this one: see :mod:`training.lineage`).

    A compact checkpoint has no Adam moments, so the settings gain ``rewarm_from`` and the
    learning rate warms up again rather than taking full steps with fresh moments."""
    state = checkpoint.load(last)
    model.load_state_dict(state["model"])
    ema.module.load_state_dict(state.get("ema", state["model"]))
    ema.n_averaged.fill_(max(1, state["step"]))
    if "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    else:
        cfg = {**cfg, "rewarm_from": state["step"]}
    gen.set_state(state["generator"])
    return state["step"], state.get("best_psnr", -1.0), cfg, state.get("before", [])


def param_groups(model: torch.nn.Module, scales: dict[str, float]) -> list[dict[str, Any]]:
    """Optimizer groups: parameters whose name starts with a key of ``scales`` learn at the
    recipe's rate times its value, the rest at the rate itself.

    A network grown from a trained one holds tuned weights and fresh ones; a rate low enough
    to leave the first alone leaves the second barely moving, one high enough for the second
    shakes the first.
    """
    groups: dict[float, list] = {}
    for name, param in model.named_parameters():
        scale = next((v for k, v in scales.items() if name.startswith(k)), 1.0)
        groups.setdefault(float(scale), []).append(param)
    unused = [k for k in scales if not any(n.startswith(k) for n, _ in model.named_parameters())]
    if unused:
        raise ValueError(f"train.lr_scale names no parameters: {', '.join(unused)}")
    return [{"params": ps, "scale": scale} for scale, ps in groups.items()]


GROWTH_KEYS = ("blocks", "attention", "window", "heads")


def _grown_from(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` is the architecture ``old`` with more residual blocks in some stage, or
    with window attention where ``old`` had none (float32 in the int8 graph: no rounding
    points of its own, ``training.qat.attention_modules``)."""
    def rest(arch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in arch.items() if k not in GROWTH_KEYS}

    if not old.get("blocks") or old.get("attention") or old == new or rest(old) != rest(new):
        return False
    return (len(old["blocks"]) == len(new["blocks"])
            and all(a <= b for a, b in zip(old["blocks"], new["blocks"])))


def _start_ranges(recipe: dict[str, Any], last: Path) -> list | None:
    """The learnt int8 ranges to go on from (int8-aware runs only): the resumed checkpoint's,
    or those of ``qat.ranges_from`` (else ``init``) for a fresh run if it learnt them for the
    same rounding points, so that a run continued under a new recipe keeps them; a float
    run between two int8-aware ones names the first in ``ranges_from``. A network grown by
    residual blocks keeps the ranges of the points it shares with the one it grew from."""
    cfg = recipe["train"].get("qat")
    source = last if last.exists() else (cfg or {}).get("ranges_from") or recipe.get("init")
    if not cfg or not source:
        return None
    state = checkpoint.load(Path(source))
    theirs = (state.get("recipe") or {}).get("train", {}).get("qat") or {}
    grown = _grown_from(state.get("arch") or {}, recipe["arch"])
    if source != last and (state.get("arch") != recipe["arch"] and not grown
                           or bool(theirs.get("float_adds")) != bool(cfg.get("float_adds"))):
        return None
    ranges = state.get("qat_ranges")
    if source == last or not ranges:
        return ranges
    if grown:  # the new blocks' ranges are measured
        return qat.grown_ranges(build(**state["arch"]).body, build(**recipe["arch"]).body,
                                ranges, bool(cfg.get("float_adds")),
                                theirs.get("float_layers", ()), cfg.get("float_layers", ()))
    # layers newly kept in float32 drop their roundings' ranges
    return qat.carry_ranges(build(**recipe["arch"]).body, ranges, bool(cfg.get("float_adds")),
                            theirs.get("float_layers", ()), cfg.get("float_layers", ()))


def train(recipe: dict[str, Any], out_dir: Path, data_root: Path, max_minutes: float | None,
          threads: int, anneal_to_deadline: bool = False) -> dict[str, Any]:
    ctx = distributed.setup()
    torch.set_num_threads(threads)
    cfg = recipe["train"]
    torch.manual_seed(cfg["seed"])
    arch = dict(recipe["arch"])
    model = build(**arch).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(param_groups(model, cfg.get("lr_scale", {})), lr=cfg["lr"],
                            weight_decay=0.0, fused=True)
    # Exponential moving average of the weights: what gets validated and exported.
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.get("ema", 0.999)))
    gen = torch.Generator().manual_seed(cfg["seed"])
    step, best, before = 0, -1.0, []
    last = out_dir / "last.pt"
    if last.exists():
        step, best, cfg, before = resume(last, model, ema, opt, gen, cfg)
        if ctx.main:
            print(f"resumed from {last} at step {step}", file=sys.stderr)
    elif recipe.get("init"):  # a fresh run that starts from another model's weights
        before = warm_start(model, Path(recipe["init"]))
        ema.module.load_state_dict(model.state_dict())
    rounding = qat.setup(recipe, data_root, model, ema.module, _start_ranges(recipe, last))
    teacher = Teacher.from_recipe(recipe, model)  # after the EMA copy: hooks stay on model
    if ctx.active:  # each rank draws its own patches, reproducibly from (seed, rank, step)
        gen.manual_seed(cfg["seed"] + 7919 * ctx.rank + 104729 * step)
    if ctx.main:
        print(f"bf16 autocast: {'on' if uses_bf16(recipe) else 'off'}", file=sys.stderr)
    net = distributed.wrap(model, ctx)
    sampler, val = make_data(recipe, data_root)
    log = RunLog(out_dir, recipe, step, ctx.main)

    def save(path: Path) -> None:
        if ctx.main:
            checkpoint.save(path, {
                "arch": arch, "model": model.state_dict(), "ema": ema.module.state_dict(),
                "optimizer": opt.state_dict(), "generator": gen.get_state(), "step": step,
                "best_psnr": best, "recipe": recipe, "world_size": ctx.world,
                "before": before, "qat_ranges": rounding.state() if rounding else None,
            })

    start = time.time()
    deadline = start + max_minutes * 60 if max_minutes else math.inf
    running = None
    model.train()
    while not distributed.any_rank(step >= cfg["steps"] or time.time() >= deadline, ctx):
        elapsed = 0.0
        if anneal_to_deadline:  # ranks agree on one clock so that they share one rate
            elapsed = distributed.agree((time.time() - start) / (deadline - start), ctx)
        lr = learning_rate(step, cfg, elapsed)
        for g in opt.param_groups:
            g["lr"] = lr * g.get("scale", 1.0)
        loss, parts = train_step(net, model, opt, sampler, gen, recipe, step, teacher)
        ema.update_parameters(model)
        step += 1
        if rounding is not None:
            rounding.after_step(step, lr)
        value = float(loss.detach())
        running = value if running is None else 0.98 * running + 0.02 * value
        val_psnr = ""
        if ctx.main and (step % cfg["val_every"] == 0 or step == cfg["steps"]):
            val_psnr = validate(ema.module, val, out_dir / "samples.png")
            best = max(best, val_psnr)
        log.tick(running, val_psnr)
        if step % cfg.get("log_every", 50) == 0 or val_psnr != "":
            log.row(step, lr, running, parts, val_psnr)
        if step % cfg["ckpt_every"] == 0:
            save(last)
    save(last)
    log.close()
    result = {"step": step, "best_psnr": best, "loss": running, "rank": ctx.rank,
              "world": ctx.world, "digest": distributed.digest(model)}
    distributed.teardown(ctx)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", required=True, help="recipe YAML")
    p.add_argument("--out", type=Path, help="run folder (default runs/<recipe name>)")
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--max-minutes", type=float, help="stop and checkpoint after this long")
    p.add_argument("--steps", type=int, help="override the recipe's step count")
    p.add_argument("--lr", type=float,
                   help="override the recipe's peak learning rate (e.g. to go on from an "
                        "annealed checkpoint without a full-size restart)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--autocast", choices=["auto", "bf16", "off"],
                   help="override the recipe's train.autocast (e.g. to compare precisions)")
    p.add_argument("--anneal-to-deadline", action="store_true",
                   help="finish the learning-rate decay by --max-minutes even if short of steps")
    args = p.parse_args(argv)
    if args.anneal_to_deadline and not args.max_minutes:
        p.error("--anneal-to-deadline needs --max-minutes")
    recipe = load_recipe(args.recipe)
    if args.steps:
        recipe["train"]["steps"] = args.steps
    if args.lr:
        recipe["train"]["lr"] = args.lr
    if args.autocast:
        recipe["train"]["autocast"] = None if args.autocast == "off" else args.autocast
    out = args.out or Path("runs") / recipe["name"]
    result = train(recipe, out, args.data_root, args.max_minutes, args.threads,
                   args.anneal_to_deadline)
    if result["world"] > 1:
        print(f"rank {result['rank']}: step {result['step']}, weights {result['digest']}")
    if result["rank"] != 0:
        return 0
    print(f"{recipe['name']}: step {result['step']}, "
          f"best validation PSNR {result['best_psnr']:.2f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
