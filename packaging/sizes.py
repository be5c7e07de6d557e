#!/usr/bin/env python3
"""Write packaging/sizes.md from a build's ``build-info.json``.

Why a generated page: size and timing figures typed into the docs go stale the moment the
shipped models or a dependency change, so the docs point here and this page is rewritten
by the build itself (``build.py --sizes-md``) or, from an existing build, with
``python packaging/sizes.py dist/build-info.json packaging/sizes.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
MB = 1000 * 1000

ARTIFACT_LABELS = {
    "bundle_unpacked": "bundle, unpacked",
    "tar_gz": "`.tar.gz`",
    "deb": "`.deb`",
}
STEP_LABELS = {
    "venv_and_install": "build venv, app install, icon",
    "pyinstaller": "PyInstaller",
    "tar_gz": "`.tar.gz`",
    "deb": "`.deb`",
    "installers": "all installers",
    "total": "total",
}


def mib_mb(n: float) -> str:
    """Both units: MiB as file managers show them, MB as the budget is stated."""
    return f"{n / MiB:.1f} MiB ({n / MB:.1f} MB)"


def _file_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _artifact_label(key: str, info: Mapping[str, Any]) -> str:
    label = ARTIFACT_LABELS.get(key, f"`{key}`")
    if key == "deb" and info.get("deb_compression"):
        label += f" ({info['deb_compression']})"
    name = info.get("artifacts", {}).get(key) or (info.get("bundle") if key ==
                                                   "bundle_unpacked" else "")
    return f"{label}: `{_file_name(name)}`" if name else label


def artifacts_table(info: Mapping[str, Any]) -> list[str]:
    """One row per measured artifact, with budget and margin where one applies."""
    budget = info.get("budget", {})
    rows = ["| artifact | size | budget | margin left |", "| --- | --- | --- | --- |"]
    for key, size in info.get("sizes", {}).items():
        limit = budget.get(key)
        if limit:
            left = limit - size
            cells = (f"{limit / MB:.0f} MB",
                     f"{mib_mb(left)}, {100 * size / limit:.0f}% used" if left >= 0
                     else f"**over by {mib_mb(-left)}**")
        else:
            cells = ("—", "—")
        rows.append(f"| {_artifact_label(key, info)} | {mib_mb(size)} | {cells[0]} | "
                    f"{cells[1]} |")
    return rows


def models_table(info: Mapping[str, Any]) -> list[str]:
    """The shipped models, biggest first, and their share of the unpacked bundle."""
    sizes: Mapping[str, int] = info.get("model_sizes", {})
    if not sizes:
        names = info.get("models", [])
        return ["Models bundled: " + (", ".join(f"`{n}`" for n in names) or "none") + "."]
    unpacked = info.get("sizes", {}).get("bundle_unpacked", 0)
    rows = ["| model | size |", "| --- | --- |"]
    for name, size in sorted(sizes.items(), key=lambda kv: kv[1], reverse=True):
        rows.append(f"| `{name}` | {mib_mb(size)} |")
    total = sum(sizes.values())
    share = f", {100 * total / unpacked:.1f}% of the unpacked bundle" if unpacked else ""
    rows.append(f"| all {len(sizes)} | {mib_mb(total)}{share} |")
    return rows


def top_entries_table(info: Mapping[str, Any]) -> list[str]:
    """The size report's biggest components (paths inside ``_internal/``)."""
    unpacked = info.get("sizes", {}).get("bundle_unpacked", 0)
    rows = ["| component | size | share |", "| --- | ---: | ---: |"]
    for name, size in info.get("top_entries", []):
        share = f"{100 * size / unpacked:.1f}%" if unpacked else "—"
        rows.append(f"| `{name}` | {size / MiB:.1f} MiB | {share} |")
    return rows


def timings_table(info: Mapping[str, Any]) -> list[str]:
    rows = ["| step | seconds |", "| --- | ---: |"]
    rows += [f"| {STEP_LABELS.get(k, k)} | {v:.0f} |" for k, v in info.get("seconds", {}).items()]
    return rows


def machine_lines(info: Mapping[str, Any]) -> list[str]:
    facts = info.get("machine", {})
    return [f"- {k}: {v}" for k, v in facts.items()] or ["- (not recorded by this build)"]


def sizes_markdown(info: Mapping[str, Any], writer: str = "") -> str:
    """The whole page for one build-info dict; `writer` is how this page was written, if
    not by the build command itself."""
    cmd = info.get("command") or "(not recorded)"
    venv = {True: "reused from an earlier build", False: "created in this build"}.get(
        info.get("venv_reused"), "")
    lines = [
        "# Bundle sizes",
        "",
        "<!-- Generated from build-info.json by packaging/sizes.py; do not edit by hand. -->",
        "",
        f"Denoiser Studio {info.get('version', '?')}, {info.get('variant', '?')} variant, "
        f"platform `{info.get('platform', '?')}`, built with",
        "",
        "```",
        cmd,
        "```",
        "",
    ]
    if writer:
        lines += [f"This page was then written with `{writer}`.", ""]
    lines += ["## Artifacts and budget", "", *artifacts_table(info), ""]
    if info.get("variant") == "cuda":
        lines += ["The budget is not enforced for the CUDA variant.", ""]
    lines += ["## Models bundled", "", *models_table(info), ""]
    lines += ["## Where the space goes", "",
              "The largest components of the unpacked bundle, from the build's size report "
              "(`size-report.txt` next to the artifacts also lists the largest files):", "",
              *top_entries_table(info), ""]
    lines += ["## Build time", "",
              "Wall-clock seconds on the machine below"
              + (f"; the build venv was {venv}" if venv else "") + ":", "",
              *timings_table(info), ""]
    lines += ["## Build machine", "", *machine_lines(info)]
    warnings = info.get("warnings", [])
    if warnings:
        lines += ["", "## Warnings", "", *[f"- {w}" for w in warnings]]
    return "\n".join(lines) + "\n"


def write_sizes_md(info: Mapping[str, Any], path: Path, writer: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sizes_markdown(info, writer), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python packaging/sizes.py",
                                description="Write the bundle-size page from build-info.json.")
    p.add_argument("info", nargs="?", default="dist/build-info.json",
                   help="a build's build-info.json (default: dist/build-info.json)")
    p.add_argument("out", nargs="?", default="packaging/sizes.md",
                   help="markdown page to write (default: packaging/sizes.md)")
    a = p.parse_args(argv)
    info = json.loads(Path(a.info).read_text(encoding="utf-8"))
    args = " ".join(sys.argv[1:] if argv is None else argv)
    write_sizes_md(info, Path(a.out), writer=f"python packaging/sizes.py {args}".strip())
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
