"""Distillation: pull a smaller student towards a trained teacher as well as the clean image.

Why: a student cut from the teacher (``training.prune``) and trained on the clean images
alone levels off below it. Two extra targets carry what the teacher knows:

* its output, an estimate of the clean image given the noisy one. The clean image itself
  holds detail that no denoiser can recover from the noise, which only adds noise to the
  gradient; the teacher's estimate does not. The term is each patch's squared distance to
  the teacher's output over its (detached) squared error to the clean image, so it weighs
  patches as the ``log_mse`` reconstruction loss does;
* its features at the end of every encoder, bottleneck and decoder stage, which a pruned
  student has in the same shapes: each stage is asked to make up for the blocks it lost.
  The term is the squared difference relative to the teacher's mean square, averaged over
  the stages.

A recipe turns it on with a ``distill`` section: ``teacher`` (a checkpoint), ``output`` and
``features`` (the two weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from training import checkpoint

FLOOR = (0.5 / 255) ** 2  # as in losses.log_mse: nearly clean patches do not take over
KEYS = {"teacher", "output", "features"}


def check(cfg: dict[str, Any]) -> None:
    """Refuse a ``distill`` section with a misspelt key or a negative weight before a run
    starts: either would otherwise only show as a run that learnt something else."""
    if set(cfg) - KEYS or "teacher" not in cfg:
        raise ValueError(f"distill takes a teacher and the weights output and features, "
                         f"not {sorted(set(cfg) - KEYS) or 'no teacher'}")
    if min(float(cfg.get("output", 1.0)), float(cfg.get("features", 0.0))) < 0:
        raise ValueError("distill weights cannot be negative")


def stage_points(model: nn.Module) -> list[nn.Module]:
    """The encoder, bottleneck and decoder stages of a U-Net, in a fixed order."""
    body = model.body
    return [*body.enc, body.mid, *body.dec]


class _Recorder:
    """Keeps the output of each hooked module from the latest forward pass."""

    def __init__(self, modules: list[nn.Module]):
        self.outputs: list[torch.Tensor | None] = [None] * len(modules)
        self.handles = [m.register_forward_hook(self._keep(i)) for i, m in enumerate(modules)]

    def _keep(self, i: int):
        def hook(_module, _inputs, output):
            self.outputs[i] = output
        return hook


class Teacher:
    """A frozen network whose outputs and stage features a student is pulled towards."""

    def __init__(self, net: nn.Module, student: nn.Module, output: float, features: float):
        self.net = net.eval().requires_grad_(False)
        self.output_weight, self.feature_weight = output, features
        self.theirs = self.ours = None
        if features:  # stage by stage, so the two must have the same stages
            theirs, ours = stage_points(self.net), stage_points(student)
            if len(theirs) != len(ours):
                raise ValueError(f"teacher has {len(theirs)} stages, student {len(ours)}")
            self.theirs, self.ours = _Recorder(theirs), _Recorder(ours)

    @classmethod
    def from_recipe(cls, recipe: dict[str, Any], student: nn.Module) -> Teacher | None:
        cfg = recipe.get("distill")
        if not cfg:
            return None
        check(cfg)
        if recipe["arch"]["name"] != "unet_ae":  # the VAE's loss has no place for it yet
            raise ValueError("distill is for the AE (unet_ae) only")
        net = checkpoint.model_from(checkpoint.load(Path(cfg["teacher"])))
        return cls(net.to(memory_format=torch.channels_last), student,
                   float(cfg.get("output", 1.0)), float(cfg.get("features", 0.0)))

    def loss(self, noisy: torch.Tensor, sigma: torch.Tensor, out: torch.Tensor,
             clean: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted distillation terms for a student output ``out`` just computed."""
        with torch.no_grad():
            target = self.net(noisy, sigma).float()
        out = out.float()
        scale = (_per_patch(out, clean) + FLOOR).detach()
        output = (_per_patch(out, target) / scale).mean()
        total, parts = self.output_weight * output, {"to_teacher": float(output.detach())}
        if self.feature_weight:
            feats = torch.stack([_relative(s, t) for s, t in
                                 zip(self.ours.outputs, self.theirs.outputs)]).mean()
            total = total + self.feature_weight * feats
            parts["features"] = float(feats.detach())
        return total, parts


def _per_patch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).flatten(1).mean(1)


def _relative(ours: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
    theirs = theirs.float()
    return (ours.float() - theirs).pow(2).mean() / (theirs.pow(2).mean() + 1e-8)
