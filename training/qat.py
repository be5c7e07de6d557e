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
addition (``float_adds`` keeps the additions in float32 instead). The ranges are measured
before training, then measured again every ``calibrate_every`` steps on the averaged weights
that get exported, or learnt (``learn_ranges``).

Nothing is added to the state dict: hooks and a per-instance forward carry the rounding, so
a checkpoint of a quantisation-aware run loads into the plain network.
"""

from __future__ import annotations

import math
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training.archs.blocks import ResBlock


def uint8_grid(lo: float, hi: float) -> tuple[float, int]:
    """(step, zero point) of onnxruntime's asymmetric uint8 over [lo, hi] (0 inside it); the
    ends in either order (``ActQuant.range`` of a learnt step that went negative)."""
    lo, hi = min(lo, hi), max(lo, hi)
    step = max(hi - lo, 1e-8) / 255.0
    return step, int(min(max(round(-lo / step), 0), 255))


class ActQuant:
    """Round a tensor to uint8 over one [lo, hi] range; or, while observing, widen the range.

    ``learn()`` turns the range into a step size and an offset that training moves (LSQ+,
    Bhalgat et al. 2020): minimum and maximum are set by a few outliers, and a range learnt
    under the loss can clip them to round everything else more finely.
    """

    def __init__(self) -> None:
        self.lo, self.hi = 0.0, 0.0
        self.observing = False
        self.scale: torch.Tensor | None = None  # learnt step and zero point, once learning
        self.zero: torch.Tensor | None = None

    def observe(self, x: torch.Tensor) -> None:
        self.lo = min(self.lo, float(x.detach().min()))
        self.hi = max(self.hi, float(x.detach().max()))

    def learn(self) -> list[torch.Tensor]:
        """Start learning from the current range; returns the two tensors to optimise."""
        step, zero = uint8_grid(self.lo, self.hi)
        self.scale = torch.tensor([step], requires_grad=True)
        self.zero = torch.tensor([float(zero)], requires_grad=True)
        return [self.scale, self.zero]

    def range(self) -> tuple[float, float]:
        """The [lo, hi] the export is to use (the learnt one while learning).

        A learnt step can cross zero: torch then rounds to the grid (q - zero) * step for q in
        0..255 all the same, which runs from (255 - zero) * step up to -zero * step, so the
        two ends are sorted; taken unsorted, the int8 graph squeezed such a tensor to nothing.
        """
        if self.scale is None:
            return self.lo, self.hi
        scale = float(self.scale.detach())
        zero = float(torch.clamp(self.zero.detach().round(), 0, 255))
        ends = -zero * scale, (255 - zero) * scale
        return min(ends), max(ends)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.observe(x)
            return x
        if self.scale is not None:
            grad = 1.0 / math.sqrt(x.numel() * 255)  # LSQ's step-size gradient scale
            return torch._fake_quantize_learnable_per_tensor_affine(
                x.float(), self.scale, self.zero, 0, 255, grad).to(x.dtype)
        if self.hi <= self.lo:  # never observed: leave the tensor alone
            return x
        step, zero = uint8_grid(self.lo, self.hi)
        return torch.fake_quantize_per_tensor_affine(x.float(), step, zero, 0, 255).to(x.dtype)


WEIGHT_LEVELS = 127
REDUCED_LEVELS = 64  # onnxruntime's reduce_range: what CPUs without VNNI multiply unsaturated


def quantise_weight(w: torch.Tensor, axis: int, levels: int = WEIGHT_LEVELS) -> torch.Tensor:
    """Symmetric int8 with one scale per output channel (onnxruntime's per-channel weights),
    over -levels..levels.

    Without VNNI an x86 CPU multiplies uint8 by int8 with VPMADDUBSW, which adds pairs of
    products in int16 and saturates when both weights are large: 2 x 255 x 127 overflows,
    2 x 255 x 64 does not. So a graph for every CPU has 7-bit weights (``reduce_range``).
    """
    dims = [d for d in range(w.dim()) if d != axis]
    scale = w.detach().abs().amax(dim=dims).clamp_min(1e-12) / levels
    zero = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale.float(), zero, axis, -levels, levels)


_float_weights = False  # set while calibrating: the quantiser calibrates the float32 graph


def _weight(module: nn.Module, axis: int) -> torch.Tensor:
    w = module.weight
    return w if _float_weights else quantise_weight(w, axis, module.qat_levels)


def _conv_forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return self._conv_forward(x, _weight(self, 0), self.bias)


def _convt_forward(self: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv_transpose2d(x, _weight(self, 1), self.bias, self.stride,
                              self.padding, self.output_padding, self.groups, self.dilation)


def _output_hook(q: ActQuant):
    return lambda module, args, out: q(out)


def _input_hook(q: ActQuant):
    return lambda module, args: (q(args[0]), *args[1:])


def _rounding_points(body: nn.Module, float_adds: bool = False,
                     float_layers: Sequence[str] = ()) -> list[tuple[nn.Module, str]]:
    """(module, 'in' or 'out') for every tensor the int8 graph rounds, in a fixed order.

    ``float_adds``: the additions stay in float32 (``training.quantize --float-adds``), so
    that the residual stream carries its sum unrounded; a sum is rounded only on its way into
    a convolution, where that convolution's input is. ``float_layers``: residual-block
    convolutions (paths such as ``enc.0.0.body.0``) kept in float32 (``training.quantize
    --float-layers``); a tensor that then enters no int8 layer is not rounded.
    """
    floats = _float_modules(body, float_layers, float_adds)
    first = body.enc[0][0].body[0] if len(body.enc) and len(body.enc[0]) else None
    points: list[tuple[nn.Module, str]] = []
    if first not in floats:
        points.append((body.stem[1], "out"))
    for name, module in body.named_modules():
        if isinstance(module, ResBlock):
            conv_a, relu, conv_b = module.body
            if float_adds and _reads_a_sum(name) and conv_a not in floats:
                points.append((conv_a, "in"))
            if conv_a not in floats or conv_b not in floats:
                points.append((relu, "out"))
            if conv_b not in floats:
                points.append((conv_b, "out"))
            if not float_adds:
                points.append((module, "out"))
        elif name.startswith(("downs.", "ups.")) and name.count(".") == 1:
            points += [(module, "in")] if float_adds else []
            points.append((module, "out"))
        elif name.startswith("dec.") and name.count(".") == 1 and not float_adds:
            points.append((module, "in"))  # the skip addition before each decoder stage
    return points


def carry_ranges(body: nn.Module, ranges: Sequence[Sequence[float]], float_adds: bool,
                 trained_layers: Sequence[str], float_layers: Sequence[str]) -> list:
    """The ranges learnt with ``trained_layers`` in float32 for the rounding points of
    ``float_layers``: a layer taken out of the int8 graph after training drops its ranges."""
    carried = grown_ranges(body, body, ranges, float_adds, trained_layers, float_layers)
    missing = sum(r is None for r in carried)
    if missing:
        raise ValueError(f"{missing} rounding points were float32 in training")
    return carried


def point_names(body: nn.Module, float_adds: bool = False,
                float_layers: Sequence[str] = ()) -> list[str]:
    """``_rounding_points`` as 'module.path:in|out', which stay the same when a stage grows."""
    names = {id(m): n for n, m in body.named_modules()}
    return [f"{names[id(m)]}:{where}" for m, where in _rounding_points(body, float_adds,
                                                                        float_layers)]


def grown_ranges(old: nn.Module, new: nn.Module, ranges: Sequence[Sequence[float]],
                 float_adds: bool, trained_layers: Sequence[str],
                 float_layers: Sequence[str]) -> list[list[float] | None]:
    """The ranges learnt on body ``old`` for the rounding points of body ``new``, a network
    grown from it (more residual blocks): matched by module path, None where ``old`` had no
    such point (a new block's), which ``Rounding.load`` leaves at its measured range."""
    learnt = point_names(old, float_adds, trained_layers)
    if len(ranges) != len(learnt):
        raise ValueError(f"{len(ranges)} ranges for {len(learnt)} rounding points")
    by_name = dict(zip(learnt, ranges))
    return [list(by_name[n]) if n in by_name else None
            for n in point_names(new, float_adds, float_layers)]


def _float_modules(body: nn.Module, paths: Sequence[str], float_adds: bool) -> list[nn.Module]:
    """The convolutions at ``paths``, each the first or second of a residual block."""
    if paths and not float_adds:
        raise ValueError("float_layers needs float_adds: a rounded sum would still feed them")
    modules = dict(body.named_modules())
    found = []
    for path in paths:
        block, _, index = path.rpartition(".body.")
        if not isinstance(modules.get(block), ResBlock) or index not in ("0", "2"):
            raise ValueError(f"{path} is not a residual block's convolution "
                             "(STAGE.I.BLOCK.body.0 or .body.2)")
        found.append(modules[path])
    return found


def _reads_a_sum(block: str) -> bool:
    """Whether the residual block at this path takes an addition's output: any block but the
    first of a stage, and the first of a decoder stage (the skip addition). The first of an
    encoder stage or of the bottleneck takes the stem's or a downsampling's output."""
    stage, index = block.rsplit(".", 1)
    return index != "0" or stage.startswith("dec.")


def attach(model: nn.Module, quants: Sequence[ActQuant] | None = None,
           float_adds: bool = False, reduce_range: bool = False,
           float_layers: Sequence[str] = ()) -> list[ActQuant]:
    """Make ``model`` (a U-Net AE) compute as its int8 export; share ``quants`` between copies.
    ``reduce_range``: 7-bit weights, as ``training.quantize --reduce-range`` writes them;
    ``float_layers``: convolutions left in float32 (``_rounding_points``).

    Returns the activation quantisers, in ``_rounding_points`` order, so that the averaged
    copy of a model can be given the same ranges.
    """
    body = model.body
    if getattr(body, "full", None) is not None or getattr(body, "mid_in", None) is not None:
        raise ValueError("quantisation-aware training covers the plain U-Net AE only")
    points = _rounding_points(body, float_adds, float_layers)
    quants = list(quants) if quants is not None else [ActQuant() for _ in points]
    if len(quants) != len(points):
        raise ValueError(f"{len(quants)} quantisers for {len(points)} rounding points")
    for (module, where), q in zip(points, quants):
        if where == "in":
            module.register_forward_pre_hook(_input_hook(q))
        else:
            module.register_forward_hook(_output_hook(q))
    if attention_modules(body) and not float_adds:
        raise ValueError("window attention stays float32 and needs float_adds: its input "
                         "and output are sums")
    ends = {id(body.stem[1]), id(body.tail[0]), *map(id, attention_modules(body)),
            *(id(m) for m in _float_modules(body, float_layers, float_adds))}
    for module in body.modules():
        if id(module) in ends:
            continue
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.qat_levels = REDUCED_LEVELS if reduce_range else WEIGHT_LEVELS
        if isinstance(module, nn.ConvTranspose2d):
            module.forward = types.MethodType(_convt_forward, module)
        elif isinstance(module, nn.Conv2d):
            module.forward = types.MethodType(_conv_forward, module)
    return quants


def attention_modules(body: nn.Module) -> list[nn.Module]:
    """Every module of the window-attention blocks (``training.archs.attention``). The int8
    graph keeps them in float32, softmax and all (``training.quantize``), so training rounds
    nothing there either: the block is tried for what it sees, not for how it rounds."""
    return [m for name, m in body.named_modules() if name.startswith(("enc_attn.", "dec_attn."))]


def _scope(body: nn.Module, path: str) -> str:
    """The exporter's scope of a submodule: one name per module called on the way down (a
    ModuleList is not called), each relative to the last module that is not a container."""
    parts, scopes, anchor, module = path.split("."), [], 0, body
    for i, part in enumerate(parts):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
        if isinstance(module, nn.ModuleList):
            continue
        scopes.append(".".join(parts[anchor:i + 1]))
        if not isinstance(module, nn.Sequential):
            anchor = i + 1
    return "/".join(scopes)


def onnx_tensors(body: nn.Module, graph, float_adds: bool = False,
                 float_layers: Sequence[str] = ()) -> list[str]:
    """The names, in the exported graph of ``body``'s network, of the tensors it rounds, in
    ``_rounding_points`` order: so that the ranges learnt in training reach the int8 graph."""
    paths = {id(m): name for name, m in body.named_modules()}
    names = []
    for module, where in _rounding_points(body, float_adds, float_layers):
        inside = _nodes_of(body, graph, paths[id(module)])
        names.append(inside[0].input[0] if where == "in" else inside[-1].output[0])
    return names


def onnx_nodes(body: nn.Module, graph, paths: Sequence[str]) -> list[str]:
    """The names of the exported graph's nodes of the modules at ``paths``: the convolutions
    ``float_layers`` keeps out of the int8 graph."""
    return [n.name for path in paths for n in _nodes_of(body, graph, path)]


def _nodes_of(body: nn.Module, graph, path: str) -> list:
    stem = next(n.name for n in graph.node if n.name.endswith("/stem/stem.1/Conv"))
    prefix = stem[: -len("stem/stem.1/Conv")]
    inside = [n for n in graph.node if n.name.startswith(f"{prefix}{_scope(body, path)}/")]
    if not inside:
        raise ValueError(f"no node of {path} in the graph")
    return inside


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
    """The rounding of one run, shared by the trained network and its average.

    With fixed ranges they are measured on the average, whose weights get exported, every
    ``every`` steps; with learnt ones (``learn``) they are measured once and then trained.
    """

    def __init__(self, model: nn.Module, averaged: nn.Module,
                 feeds: Sequence[dict[str, np.ndarray]], every: int, learn: bool = False,
                 float_adds: bool = False, reduce_range: bool = False,
                 float_layers: Sequence[str] = ()):
        self.averaged, self.feeds, self.every, self.learnt = averaged, feeds, every, learn
        self.quants = attach(averaged, None, float_adds, reduce_range, float_layers)
        if model is not averaged:  # a run without an average rounds the one network
            attach(model, self.quants, float_adds, reduce_range, float_layers)
        calibrate(averaged, self.quants, feeds)
        # its own optimiser: the ranges' state is their values, saved with the checkpoint
        self.opt = (torch.optim.Adam([t for q in self.quants for t in q.learn()])
                    if learn else None)

    def after_step(self, step: int, lr: float) -> None:
        """Move the learnt ranges by the gradients of the step just taken, at its rate; or
        measure the fixed ones again when it is time."""
        if self.opt is not None:
            for group in self.opt.param_groups:
                group["lr"] = lr
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        elif self.every and step % self.every == 0:  # every 0: the ranges stay as loaded
            calibrate(self.averaged, self.quants, self.feeds)

    def state(self) -> list[list[float]]:
        """The ranges, in ``_rounding_points`` order, for the checkpoint."""
        return [list(q.range()) for q in self.quants]

    def load(self, ranges: Sequence[Sequence[float] | None]) -> None:
        """Continue from a checkpoint's ranges; a None keeps the range measured here."""
        if len(ranges) != len(self.quants):
            raise ValueError(f"{len(ranges)} ranges for {len(self.quants)} rounding points")
        with torch.no_grad():
            for q, r in zip(self.quants, ranges):
                if r is None:
                    continue
                q.lo, q.hi = r
                if q.scale is not None:
                    step, zero = uint8_grid(q.lo, q.hi)
                    q.scale.fill_(step)
                    q.zero.fill_(zero)


def setup(recipe: dict, data_root: Path, model: nn.Module, averaged: nn.Module,
          ranges: Sequence[Sequence[float] | None] | None = None) -> Rounding | None:
    """``Rounding`` for a recipe with ``train.qat`` (``{calibrate_every: N}`` for measured
    ranges, ``{learn_ranges: true}`` for learnt ones, ``float_adds: true`` for additions in
    float32, ``reduce_range: true`` for 7-bit weights, ``float_layers: [paths]`` for residual
    block convolutions left in float32, ``ranges_from: <checkpoint>`` for
    the learnt ranges of another run than ``init``), else None; ``ranges`` from the
    checkpoint a run resumes or starts from (``training.train._start_ranges``)."""
    cfg = recipe["train"].get("qat")
    if not cfg:
        return None
    return from_config(cfg, model, averaged, calibration_set(data_root, recipe, model.multiple),
                       ranges)


def from_config(cfg: dict, model: nn.Module, averaged: nn.Module,
                feeds: Sequence[dict[str, np.ndarray]],
                ranges: Sequence[Sequence[float] | None] | None = None,
                every: int | None = None) -> Rounding:
    """``Rounding`` for a recipe's ``train.qat`` settings (``setup``); ``every`` overrides
    its ``calibrate_every`` (0: measured ranges stay as loaded)."""
    rounding = Rounding(model, averaged, feeds,
                        int(cfg.get("calibrate_every", 250)) if every is None else every,
                        bool(cfg.get("learn_ranges", False)), bool(cfg.get("float_adds", False)),
                        bool(cfg.get("reduce_range", False)), cfg.get("float_layers", ()))
    if ranges is not None:
        rounding.load(ranges)
    return rounding
