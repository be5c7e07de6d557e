"""Network architectures, looked up by name from recipes and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn as nn

ARCHS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    """Class decorator: make an architecture buildable from a recipe by ``name``."""

    def wrap(cls: Callable) -> Callable:
        ARCHS[name] = cls
        return cls

    return wrap


def build(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered architecture; checkpoints store ``name`` and ``kwargs``."""
    if name not in ARCHS:
        raise KeyError(f"unknown architecture {name!r}; known: {sorted(ARCHS)}")
    return ARCHS[name](**kwargs)


from training.archs import unet, vae  # noqa: E402,F401  (registers the architectures)
