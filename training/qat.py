"""Quantisation-aware training: the network learns under the rounding of its int8 export.

An int8 graph in which every layer is quantised runs about 2.5 times as fast as the float32
one on a CPU with VNNI (``benchmarks/arch_speed.py --int8``), but rounding every activation
to 8 bits after training costs a shipped U-Net about a decibel. Trained with that rounding
in its forward pass (straight-through gradients), the network learns weights that tolerate
it.

The rounding mirrors what ``training.quantize --float-scale 2 --float-ends`` makes of the
exported graph (onnxruntime's QDQ format): every layer int8 but the two ends, the stem
convolution and the tail's, which cost about 2 % of the arithmetic and hold the input and
the residual at full precision (8 bits over the input's range would tell the network
sigma only to the nearest 3 levels). Weights int8, symmetric, one scale per output channel;
activations uint8 with one range per tensor, taken as the minimum and maximum over the same
calibration crops (``training.quantize.calibration_feeds``). A tensor is rounded where the
exported graph rounds it: the output of every convolution but the tail's (after its ReLU,
which the quantiser folds into the range), of every residual addition and of every skip
addition. The ranges are measured before training and
again every ``calibrate_every`` steps, on the averaged weights that get exported.

Nothing is added to the state dict: hooks and a per-instance forward carry the rounding, so
a checkpoint of a quantisation-aware run loads into the plain network.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training.archs.blocks import ResBlock


class ActQuant:
    """Round a tensor to uint8 over one [lo, hi] range; or, while observing, widen the range."""

    def __init__(self) -> None:
        self.lo, self.hi = 0.0, 0.0
        self.observing = False

    def observe(self, x: torch.Tensor) -> None:
        self.lo = min(self.lo, float(x.detach().min()))
        self.hi = max(self.hi, float(x.detach().max()))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.observe(x)
            return x
        if self.hi <= self.lo:  # never observed: leave the tensor alone
            return x
        scale = (self.hi - self.lo) / 255.0  # onnxruntime's asymmetric uint8, 0 in range
        zero = int(round(-self.lo / scale))
        return torch.fake_quantize_per_tensor_affine(x.float(), scale, zero, 0, 255).to(x.dtype)


def quantise_weight(w: torch.Tensor, axis: int) -> torch.Tensor:
    """Symmetric int8 with one scale per output channel (onnxruntime's per-channel weights)."""
    dims = [d for d in range(w.dim()) if d != axis]
    scale = w.detach().abs().amax(dim=dims).clamp_min(1e-12) / 127.0
    zero = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale.float(), zero, axis, -127, 127)


_float_weights = False  # set while calibrating: the quantiser calibrates the float32 graph


def _weight(w: torch.Tensor, axis: int) -> torch.Tensor:
    return w if _float_weights else quantise_weight(w, axis)


def _conv_forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return self._conv_forward(x, _weight(self.weight, 0), self.bias)


def _convt_forward(self: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv_transpose2d(x, _weight(self.weight, 1), self.bias, self.stride,
                              self.padding, self.output_padding, self.groups, self.dilation)


def _output_hook(q: ActQuant):
    return lambda module, args, out: q(out)


def _input_hook(q: ActQuant):
    return lambda module, args: (q(args[0]), *args[1:])


def _rounding_points(body: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, 'in' or 'out') for every tensor the int8 graph rounds, in a fixed order."""
    points: list[tuple[nn.Module, str]] = [(body.stem[1], "out")]
    for name, module in body.named_modules():
        if isinstance(module, ResBlock):
            conv_a, relu, conv_b = module.body
            points += [(relu, "out"), (conv_b, "out"), (module, "out")]
        elif name.startswith(("downs.", "ups.")) and name.count(".") == 1:
            points.append((module, "out"))
        elif name.startswith("dec.") and name.count(".") == 1:
            points.append((module, "in"))  # the skip addition before each decoder stage
    return points


def attach(model: nn.Module, quants: Sequence[ActQuant] | None = None) -> list[ActQuant]:
    """Make ``model`` (a U-Net AE) compute as its int8 export; share ``quants`` between copies.

    Returns the activation quantisers, in ``_rounding_points`` order, so that the averaged
    copy of a model can be given the same ranges.
    """
    body = model.body
    if getattr(body, "full", None) is not None or getattr(body, "mid_in", None) is not None:
        raise ValueError("quantisation-aware training covers the plain U-Net AE only")
    points = _rounding_points(body)
    quants = list(quants) if quants is not None else [ActQuant() for _ in points]
    if len(quants) != len(points):
        raise ValueError(f"{len(quants)} quantisers for {len(points)} rounding points")
    for (module, where), q in zip(points, quants):
        if where == "in":
            module.register_forward_pre_hook(_input_hook(q))
        else:
            module.register_forward_hook(_output_hook(q))
    ends = {id(body.stem[1]), id(body.tail[0])}
    for module in body.modules():
        if id(module) in ends:
            continue
        if isinstance(module, nn.ConvTranspose2d):
            module.forward = types.MethodType(_convt_forward, module)
        elif isinstance(module, nn.Conv2d):
            module.forward = types.MethodType(_conv_forward, module)
    return quants


@torch.no_grad()
def calibrate(model: nn.Module, quants: Sequence[ActQuant],
              feeds: Sequence[dict[str, np.ndarray]]) -> None:
    """Set every range to the minimum and maximum over ``feeds`` of the float network, as the
    int8 export's minmax calibration does (it runs the float32 graph)."""
    global _float_weights
    was_training = model.training
    model.eval()
    for q in quants:
        q.lo, q.hi, q.observing = 0.0, 0.0, True
    _float_weights = True
    try:
        for f in feeds:
            model(torch.from_numpy(f["noisy"]), torch.from_numpy(f["sigma"]))
    finally:
        _float_weights = False
        for q in quants:
            q.observing = False
    model.train(was_training)


def calibration_set(data_root: Path, recipe: dict, multiple: int) -> list[dict[str, np.ndarray]]:
    """The calibration crops ``training.quantize`` uses, cut from the recipe's first folder."""
    from training.quantize import Calibration, calibration_feeds

    folder = data_root / recipe["data"]["train"][0]
    return calibration_feeds(folder, recipe["arch"]["channels"], multiple, Calibration(),
                             recipe["data"].get("sigma_max", 75))


class Rounding:
    """The rounding of one run: shared by the trained network and its average, whose ranges
    (the ones the export will be calibrated to) are measured every ``every`` steps."""

    def __init__(self, model: nn.Module, averaged: nn.Module,
                 feeds: Sequence[dict[str, np.ndarray]], every: int):
        self.averaged, self.feeds, self.every = averaged, feeds, every
        self.quants = attach(averaged)
        attach(model, self.quants)
        calibrate(averaged, self.quants, feeds)

    def after_step(self, step: int) -> None:
        if step % self.every == 0:
            calibrate(self.averaged, self.quants, self.feeds)


def setup(recipe: dict, data_root: Path, model: nn.Module, averaged: nn.Module) -> Rounding | None:
    """``Rounding`` for a recipe with ``train.qat`` (``{calibrate_every: N}``), else None."""
    cfg = recipe["train"].get("qat")
    if not cfg:
        return None
    feeds = calibration_set(data_root, recipe, model.multiple)
    return Rounding(model, averaged, feeds, int(cfg.get("calibrate_every", 250)))
