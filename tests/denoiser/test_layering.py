"""The core never pulls in Qt or torch: the CLI and the engine must run without them.

Why both a run-time and a static check: the subprocess catches indirect imports (a core
module importing a helper that imports torch); the AST scan catches imports hidden in
functions that a quick import would not execute.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "denoiser"
CORE = ("engine", "tiling", "imageio", "models", "noise", "cli", "batch", "cancel", "errors")


def test_core_imports_neither_torch_nor_qt():
    code = (
        "import importlib, json, sys\n"
        f"for m in {CORE!r}:\n"
        "    importlib.import_module('denoiser.' + m)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('torch', 'PySide6'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_outside_gui_imports_pyside6_and_none_imports_torch():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        roots = _imported_roots(path)
        in_gui = "gui" in path.relative_to(PACKAGE).parts
        if "torch" in roots or ("PySide6" in roots and not in_gui):
            offenders.append(str(path.relative_to(PACKAGE.parent)))
    assert offenders == []
