"""Make a trained U-Net cheaper by dropping the residual blocks it needs least.

Why: a network trained for hours on a CPU whose int8 kernels are fast can be too slow where
they are not, and a shallower network started from the deep one's weights recovers in a
short fine-tune what one trained from scratch needs hours for. Each residual block is a skip
plus a correction, so bypassing one leaves a working network; the blocks kept in each stage
are the ones whose bypass costs the most validation PSNR (held-in images, several noise
levels), renumbered in their order. ``--hidden`` then narrows the middle of every residual
block of a level to the given width, keeping the channels that carry the most: each one's mean
ReLU output on the validation crops times the norm of the weights that read it (a block on
half its middle channels costs half the multiply-adds and keeps its depth). The result is a
checkpoint for a recipe's ``init``:

    python -m training.prune --checkpoint CK --blocks 4-2-1-1 --out training/checkpoints/X.pt
    python -m training.prune --checkpoint CK --blocks 6-4-1-1 --hidden 16-32-64-128 --out X.pt
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from training import checkpoint
from training.archs.blocks import ResBlock
from training.data import list_images, validation_set
from training.train import training_folder, validate

STAGES = ("enc", "dec")  # per level; the bottleneck ("mid") stage is kept whole


def _stages(level_count: int) -> list[tuple[str, int]]:
    """(stage name, level) of every encoder and decoder stage above the bottleneck."""
    return [(s, lv) for lv in range(level_count) for s in STAGES]


def block_losses(model: torch.nn.Module, vals: Sequence[tuple]) -> dict[str, float]:
    """Mean validation PSNR lost when each encoder or decoder residual block is bypassed."""
    base, losses, body = _mean_psnr(model, vals), {}, model.body
    for name, level in _stages(len(body.enc)):
        stage = getattr(body, name)[level]
        for i, block in enumerate(stage):
            assert isinstance(block, ResBlock)
            stage[i] = torch.nn.Identity()
            losses[f"{name}.{level}.{i}"] = base - _mean_psnr(model, vals)
            stage[i] = block
    return losses


@torch.no_grad()
def _mean_psnr(model: torch.nn.Module, vals: Sequence[tuple]) -> float:
    return sum(validate(model, v) for v in vals) / len(vals)


def kept_blocks(losses: dict[str, float], blocks: Sequence[int]) -> dict[str, list[int]]:
    """Per stage, the indices (in order) of the ``blocks[level]`` blocks that cost most to lose."""
    kept = {}
    for key in {k.rsplit(".", 1)[0] for k in losses}:
        level = int(key.split(".")[1])
        ranked = sorted((k for k in losses if k.rsplit(".", 1)[0] == key),
                        key=lambda k: losses[k], reverse=True)
        kept[key] = sorted(int(k.rsplit(".", 1)[1]) for k in ranked[: blocks[level]])
    return kept


def pruned_state(state: dict, kept: dict[str, list[int]], blocks: Sequence[int]) -> dict:
    """A compact checkpoint of the network with only the ``kept`` blocks, renumbered; the
    source's int8 ranges and best validation score, which were not this network's, are left
    out."""
    weights = state.get("ema") or state["model"]
    out = {}
    for name, t in weights.items():
        parts = name.split(".")  # body.enc.0.3.body.0.weight
        stage = ".".join(parts[1:3])
        if parts[1] in STAGES and stage in kept:
            old = int(parts[3])
            if old not in kept[stage]:
                continue
            parts[3] = str(kept[stage].index(old))
        out[".".join(parts)] = t
    arch = {**state["arch"], "blocks": list(blocks)}
    small = {k: v for k, v in state.items()
             if k not in ("optimizer", "model", "ema", "qat_ranges", "arch", "best_psnr")}
    small.update(arch=arch, model=out, ema=out, pruned_from=dict(kept))
    return small


def prune(state: dict, blocks: Sequence[int], holdout: Sequence[Path],
          sigmas: Sequence[float] = (15, 25, 50)) -> tuple[dict, dict[str, float]]:
    """(pruned checkpoint, PSNR lost per bypassed block) for the layout ``blocks``."""
    if len(blocks) != len(state["arch"]["blocks"]) or blocks[-1] != state["arch"]["blocks"][-1]:
        raise ValueError("prune keeps the levels and the bottleneck stage: "
                         f"{list(blocks)} against {state['arch']['blocks']}")
    if any(b > a for a, b in zip(state["arch"]["blocks"], blocks)):
        raise ValueError(f"cannot prune {state['arch']['blocks']} to more blocks {list(blocks)}")
    model = checkpoint.model_from(state)
    losses = block_losses(model, _validation_sets(state, holdout, sigmas))
    return pruned_state(state, kept_blocks(losses, blocks), blocks), losses


def _validation_sets(state: dict, holdout: Sequence[Path], sigmas: Sequence[float]) -> list:
    return [validation_set(holdout, state["arch"]["channels"], sigma=s) for s in sigmas]


def channel_importance(model: torch.nn.Module, vals: Sequence[tuple]) -> dict[str, torch.Tensor]:
    """Per residual block of the encoder, decoder and bottleneck (by module name), each middle
    channel's mean ReLU output over the validation crops times the norm of the second
    convolution's weights that read it."""
    acts: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(_module, _inputs, out):
            acts[name] = acts.get(name, 0) + out.detach().mean(dim=(0, 2, 3))
        return record

    blocks = {n: m for n, m in model.named_modules()
              if isinstance(m, ResBlock) and n.split(".")[1] in (*STAGES, "mid")}
    handles = [m.body[1].register_forward_hook(hook(n)) for n, m in blocks.items()]
    try:
        _mean_psnr(model, vals)
    finally:
        for h in handles:
            h.remove()
    reads = {n: m.body[2].weight.detach().pow(2).sum(dim=(0, 2, 3)) for n, m in blocks.items()}
    return {n: acts[n] * reads[n].sqrt() for n in blocks}


def narrowed_state(state: dict, hidden: Sequence[int], importance: dict[str, torch.Tensor]) -> dict:
    """``state`` with each level's residual blocks cut to ``hidden[level]`` middle channels,
    the most important ones, in their order; the source's int8 ranges are left out."""
    widths = _check_hidden(state, hidden)
    weights = dict(state.get("ema") or state["model"])
    for name, score in importance.items():
        level = len(widths) - 1 if name.startswith("body.mid") else int(name.split(".")[2])
        keep = torch.topk(score, hidden[level]).indices.sort().values
        for key in (f"{name}.body.0.weight", f"{name}.body.0.bias"):
            weights[key] = weights[key][keep].clone()
        key = f"{name}.body.2.weight"
        weights[key] = weights[key][:, keep].clone()
    small = {k: v for k, v in state.items() if k not in ("optimizer", "qat_ranges", "best_psnr")}
    small.update(arch={**state["arch"], "hidden": list(hidden)}, model=weights, ema=weights)
    return small


def _check_hidden(state: dict, hidden: Sequence[int]) -> list[int]:
    """The source's widths, once ``hidden`` is known to narrow each level's blocks (or keep
    them), so that a wrong layout fails before any network runs."""
    widths = state["arch"]["widths"]
    if len(hidden) != len(widths):
        raise ValueError(f"--hidden needs one width per level: {len(widths)}, not {len(hidden)}")
    now = state["arch"].get("hidden") or widths
    if any(not 1 <= h <= n for h, n in zip(hidden, now)):
        raise ValueError(f"cannot widen the blocks' middles {list(now)} to {list(hidden)}")
    return widths


def narrow(state: dict, hidden: Sequence[int], holdout: Sequence[Path],
           sigmas: Sequence[float] = (15, 25, 50)) -> dict:
    """``state`` narrowed to ``hidden`` middle channels per level (see :func:`narrowed_state`)."""
    _check_hidden(state, hidden)
    model = checkpoint.model_from(state)
    return narrowed_state(state, hidden, channel_importance(model, _validation_sets(
        state, holdout, sigmas)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--blocks", required=True, help="blocks per level, e.g. 4-2-1-1")
    p.add_argument("--hidden", help="middle channels of each level's residual blocks, "
                   "e.g. 16-32-64-128 (default: as they are)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    state = checkpoint.load(args.checkpoint)
    recipe_data = state["recipe"]["data"]
    folder = training_folder(args.data_root, recipe_data["train"][0])
    holdout = list_images(folder)[-recipe_data.get("val_holdout", 4):]
    blocks = [int(b) for b in args.blocks.split("-")]
    hidden = [int(h) for h in args.hidden.split("-")] if args.hidden else None
    if hidden:
        _check_hidden(state, hidden)  # before the minutes of bypassing blocks
    small, losses = prune(state, blocks, holdout)
    for k, v in sorted(losses.items(), key=lambda kv: -kv[1]):
        print(f"{k:10s} {v:7.3f} dB{'  kept' if _is_kept(k, small['pruned_from']) else ''}")
    if hidden:
        small = narrow(small, hidden, holdout)
    checkpoint.save(args.out, small)
    print(f"wrote {args.out}: blocks {blocks}, hidden {small['arch'].get('hidden')}",
          file=sys.stderr)
    return 0


def _is_kept(key: str, kept: dict[str, list[int]]) -> bool:
    stage, i = key.rsplit(".", 1)
    return int(i) in kept.get(stage, [])


if __name__ == "__main__":
    sys.exit(main())
