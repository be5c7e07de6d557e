"""Training steps per second of a recipe, in float32 and in bf16 autocast, on this CPU.

    python benchmarks/train_speed.py --data ../shared/datasets \
        --recipe training/recipes/ae-color-swap.yaml --threads 1 --seconds 60 [--compile]

Measure before planning a long run. Each precision runs the recipe's real step
(``training.train.train_step``: its network, patch sampler, batch, loss, clipping and fused
AdamW) for ``--seconds`` after a few warm-up steps, in the same process one after the
other; the JSON records whether this CPU computes bf16 natively (AMX or AVX-512 BF16),
which decides whether ``train.autocast: auto`` turns bf16 on
(``training.train.bf16_is_fast``). ``--compile`` adds float32 under ``torch.compile`` (its
compilation is part of the warm-up), to see whether the trainer would gain from it.
Figures from a machine busy with other work are lower: run it alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from denoiser.bench import machine_info  # noqa: E402
from training.archs import build  # noqa: E402
from training.train import bf16_is_fast, load_recipe, make_data, train_step  # noqa: E402


def steps_per_second(recipe: dict, data_root: Path, bf16: bool, seconds: float,
                     warmup: int = 3, compiled: bool = False) -> float:
    """Steps per second of the recipe's training step with autocast on or off."""
    recipe = {**recipe, "train": {**recipe["train"], "autocast": "bf16" if bf16 else None}}
    cfg, arch = recipe["train"], dict(recipe["arch"])
    torch.manual_seed(cfg["seed"])
    model = build(**arch).to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    sampler, _ = make_data(recipe, data_root)
    gen = torch.Generator().manual_seed(cfg["seed"])
    net = torch.compile(model) if compiled else model

    for i in range(warmup):
        train_step(net, model, opt, sampler, gen, recipe, i)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        train_step(net, model, opt, sampler, gen, recipe, warmup + n)
        n += 1
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the datasets folder")
    p.add_argument("--recipe", type=Path, action="append", required=True, help="repeatable")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--json", type=Path)
    p.add_argument("--compile", action="store_true", help="also float32 under torch.compile")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for path in args.recipe:
        recipe = load_recipe(path)
        d = recipe["data"]
        row = {"recipe": str(path), "blocks": recipe["arch"]["blocks"],
               "batch": f"{recipe['train']['batch']} x {d['patch']} px"}
        for name, bf16 in (("float32", False), ("bf16", True)):
            row[name] = round(steps_per_second(recipe, args.data, bf16, args.seconds), 2)
        row["speed-up"] = round(row["bf16"] / row["float32"], 2)
        if args.compile:
            row["compiled"] = round(steps_per_second(recipe, args.data, False, args.seconds,
                                                     compiled=True), 2)
            row["compile speed-up"] = round(row["compiled"] / row["float32"], 2)
        rows.append(row)
        print("  ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    machine = {"cpu": machine_info(args.threads)["cpu"], "bf16_native": bf16_is_fast(),
               "threads": args.threads, "torch": torch.__version__,
               "command": "python " + " ".join(["benchmarks/train_speed.py", *sys.argv[1:]])}
    print(json.dumps(machine))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
