"""Load a script from benchmarks/ by its path.

Why by path: benchmarks/ is not a package, and tests/benchmarks/ (a namespace folder on
pytest's path) would shadow ``import benchmarks`` anyway.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """Import benchmarks/<name>.py as module ``bench_<name>`` (once)."""
    key = f"bench_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
