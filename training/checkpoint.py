"""Checkpoints that carry what is needed to rebuild the network, written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from training.archs import build


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write through a temporary file and rename, so a stop mid-write never loses the last one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def model_from(state: dict[str, Any]) -> torch.nn.Module:
    """Rebuild the network from a checkpoint's ``arch`` entry; the averaged (EMA) weights win."""
    arch = dict(state["arch"])
    model = build(arch.pop("name"), **arch)
    model.load_state_dict(state.get("ema") or state["model"])
    return model.eval()


def compact(state: dict[str, Any]) -> dict[str, Any]:
    """A small copy for committing between sittings: the averaged weights, no optimizer.

    The raw and averaged weights become one set (stored once) and Adam's moments are left
    out: they rebuild within a few hundred steps, and the trainer warms the learning rate
    up again when it resumes without them. This keeps the file at the size of the model.
    """
    weights = state.get("ema") or state["model"]
    small = {k: v for k, v in state.items() if k not in ("optimizer", "model", "ema")}
    small["model"] = small["ema"] = weights
    return small
