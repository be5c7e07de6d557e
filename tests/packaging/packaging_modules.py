"""Load packaging/*.py scripts as modules: they are scripts, not an importable package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def load(name: str, filename: str):
    """Import ``packaging/<filename>`` as module ``name`` (registered, so dataclasses work)."""
    spec = importlib.util.spec_from_file_location(name, PACKAGING / filename)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
