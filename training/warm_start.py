"""Start a new model from a trained one instead of from noise.

On a 2-core machine every trained step is precious, so the grey AE, the colour VAE and the
photo AE begin from the colour AE's weights. Tensors of equal shape are copied. The grey
model's stem and tail are folded from the colour ones, so that at step 0 it computes the
colour model on the grey image repeated in R, G and B (the mean of the three outputs). The
VAE's extra bottleneck convolution starts as the identity on the features, so that at step 0
its deterministic path (z = 0) is the AE and the latent is learned on top. A deeper network
(more residual blocks in a stage) starts from a shallower one with its new blocks as the
identity, and a wider one (more channels in a stage) with its new channels unheard.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn as nn

from training import checkpoint, lineage
from training.archs.blocks import ResBlock


def _fold_stem(w: torch.Tensor, channels: int, r2: int) -> torch.Tensor:
    """Colour stem (out, (3+1)*r2, k, k) -> grey stem (out, (1+1)*r2, k, k): sum over R, G, B."""
    colour, sigma = w[:, : 3 * r2], w[:, 3 * r2 :]
    grey = colour.reshape(w.shape[0], 3, r2, *w.shape[2:]).sum(dim=1)
    return torch.cat([grey, sigma], dim=1) if channels == 1 else w


def _fold_tail(t: torch.Tensor, r2: int) -> torch.Tensor:
    """Colour tail's output channels (3*r2, ...) -> grey (r2, ...): mean over R, G, B."""
    return t.reshape(3, r2, *t.shape[1:]).mean(dim=0)


def _identity_mid_in(conv: nn.Conv2d, features: int) -> None:
    """Identity on the features; the latent's weights keep their random init.

    With z = 0 the output is the AE's whatever those weights are. Zeroing them too would
    park the VAE at a saddle: the decoder ignores z, so the posterior gets no gradient
    but the KL's, collapses onto the prior, and z stays noise the decoder learns to ignore.
    """
    with torch.no_grad():
        conv.weight[:, :features].zero_()
        conv.bias.zero_()
        k = conv.kernel_size[0] // 2
        for i in range(features):
            conv.weight[i, i, k, k] = 1.0


def _identity_new_blocks(model: nn.Module, fresh: list[str]) -> list[str]:
    """Residual blocks the source lacks (a deeper stage) start as the identity: their last
    convolution is zeroed, so the grown network computes what the source did at step 0 and
    training only has to find a use for the new capacity. Returns the names still fresh."""
    grown = set()
    for prefix, module in model.named_modules():
        if prefix.startswith("body.full."):  # the head's output is zero already: learn freely
            continue
        if isinstance(module, ResBlock) and all(f"{prefix}.{n}" in fresh
                                                for n, _ in module.named_parameters()):
            with torch.no_grad():
                module.body[-1].weight.zero_()
                module.body[-1].bias.zero_()
            grown.update(f"{prefix}.{n}" for n, _ in module.named_parameters())
    return [n for n in fresh if n not in grown]


def _widened(fresh: torch.Tensor, old: torch.Tensor, transposed: bool) -> torch.Tensor | None:
    """``old`` inside the wider ``fresh``, or None if it does not fit.

    Old outputs read nothing from new inputs (those weights are zero), so the network
    computes what the narrower one did; new outputs keep their random init, so the new
    channels carry signals at once and the zeroed weights get gradients from step 0.
    """
    if old.dim() != fresh.dim() or any(a > b for a, b in zip(old.shape, fresh.shape)):
        return None
    out = fresh.detach().clone()
    if out.dim() >= 2:  # a convolution: (out, in, k, k), or (in, out, k, k) transposed
        o, i = (1, 0) if transposed else (0, 1)
        rows = [slice(None)] * out.dim()
        rows[o], rows[i] = slice(0, old.shape[o]), slice(old.shape[i], None)
        out[tuple(rows)] = 0.0
    out[tuple(slice(0, n) for n in old.shape)] = old
    return out


def adapt(model: nn.Module, source: dict[str, torch.Tensor]) -> list[str]:
    """Load what fits of ``source`` into ``model``; return the names left at their init."""
    body = model.body
    r2 = body.unshuffle**2
    own = model.state_dict()
    loaded, fresh = {}, []
    for name, t in own.items():
        s = source.get(name)
        if s is not None and s.shape != t.shape and body.channels == 1:
            if name == "body.stem.1.weight" and s.shape[1] == 4 * r2:  # a colour source
                s = _fold_stem(s, 1, r2)
            elif name.startswith("body.tail.0.") and s.shape[0] == 3 * r2:
                s = _fold_tail(s, r2)
        if s is not None and s.shape != t.shape:
            owner = model.get_submodule(name.rsplit(".", 1)[0])
            s = _widened(t, s, isinstance(owner, nn.ConvTranspose2d))
        if s is not None:
            loaded[name] = s
        else:
            fresh.append(name)
    model.load_state_dict(loaded, strict=False)
    fresh = _identity_new_blocks(model, fresh)
    if getattr(body, "mid_in", None) is not None and "body.mid_in.weight" in fresh:
        _identity_mid_in(body.mid_in, body.mid_in.out_channels)
        fresh = [n for n in fresh if not n.startswith("body.mid_in.")]
    return fresh


def warm_start(model: nn.Module, path: str | Path) -> list[dict]:
    """Initialise ``model`` from the checkpoint at ``path`` (its averaged weights); return the
    runs those weights went through, which the new run inherits (:mod:`training.lineage`)."""
    state = checkpoint.load(path)
    fresh = adapt(model, state.get("ema") or state["model"])
    print(f"warm start from {path} (step {state.get('step')}); "
          f"{len(fresh)} tensors left fresh: {', '.join(fresh) or 'none'}", file=sys.stderr)
    return lineage.stages(state, Path(path).stem)
