"""The runs a checkpoint's weights went through, so a staged model counts all its training.

A warm-started run (a grown network, a longer-patch stage, a fine-tune) counts its steps
from 0, but the model it ships also trained through every run before it. Each checkpoint
keeps that history as ``before``: the earlier runs, oldest first, as ``{"run", "steps"}``.
A warm start (training/warm_start.py) hands it on; the exporter sums it into
``training_steps``; the report draws a stage's curve from where its predecessors stopped.
"""

from __future__ import annotations

import json
from typing import Any


def stages(state: dict[str, Any], name: str = "unnamed") -> list[dict[str, Any]]:
    """Every run of ``state``'s weights, oldest first, itself last (called ``name`` when the
    checkpoint has no recipe, as a hand-made one may not)."""
    run = state.get("recipe", {}).get("name", name)
    return [*state.get("before", []), {"run": run, "steps": int(state.get("step", 0))}]


def steps_before(state: dict[str, Any]) -> int:
    """Training steps taken before this run started."""
    return sum(int(s["steps"]) for s in state.get("before", []))


def total_steps(state: dict[str, Any]) -> int:
    """Training steps of every run, this one included."""
    return steps_before(state) + int(state["step"])


def describe(state: dict[str, Any]) -> str:
    """The history as model metadata: a JSON list, oldest run first."""
    return json.dumps(stages(state))
