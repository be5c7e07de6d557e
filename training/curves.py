"""The training curves of the shipped models: each model's runs, end to end, in its own panel.

Why: a shipped model went through many runs (warm starts, fine-tunes, quantisation-aware
stages), and about as many experiments were tried beside them. Drawn together, the runs of
one model are lost among the others and the last tenth of a dB, where the stages differ,
is squeezed into a scale that starts at the first step's 21 dB. Each model's ONNX metadata
lists its stages (``training_stages``, :mod:`training.lineage`), so each panel draws those
runs only, each up to the step its successor started from, on a scale fitted to its end.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

ZOOM_DB = 1.0  # each panel shows the top this many dB of its model's validation PSNR


def shipped_lineages(models: list[Path]) -> dict[str, list[dict]]:
    """Model name -> its stages, oldest first; an int8 copy of a float model (same stages)
    appears once, under the shorter name."""
    import onnx

    by_stages: dict[str, str] = {}
    for path in sorted(models):
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False)
                .metadata_props}
        stages = meta.get("training_stages")
        if stages and (stages not in by_stages or len(meta["name"]) < len(by_stages[stages])):
            by_stages[stages] = meta["name"]
    return {name: json.loads(stages) for stages, name in by_stages.items()}


def validation_series(stages: list[dict], logs: dict[str, Path]
                      ) -> list[tuple[str, list[int], list[float]]]:
    """(run, steps, validation PSNR) of each stage with a log, its steps counted from the
    model's first, its rows cut at the step the next stage went on from."""
    series, at = [], 0
    for stage in stages:
        log = logs.get(stage["run"])
        if log is not None:
            with open(log) as f:
                rows = [r for r in csv.DictReader(f)
                        if r["val_psnr"] and int(r["step"]) <= int(stage["steps"])]
            if rows:
                series.append((stage["run"], [at + int(r["step"]) for r in rows],
                               [float(r["val_psnr"]) for r in rows]))
        at += int(stage["steps"])
    return series


def plot_lineages(lineages: dict[str, list[dict]], logs: dict[str, Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(lineages)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        series = validation_series(lineages[name], logs)
        colours = plt.get_cmap("tab20" if len(series) > 10 else "tab10").colors
        for i, (run, steps, psnr) in enumerate(series):
            ax.plot(steps, psnr, label=run, color=colours[i % len(colours)],
                    marker="." if len(steps) < 5 else None)
        top = max((max(p) for _, _, p in series), default=None)
        if top is not None:
            ax.set_ylim(top - ZOOM_DB, top + 0.1 * ZOOM_DB)
        ax.set_title(name)
        ax.set(xlabel="step, over all its runs", ylabel="validation PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.locator_params(axis="x", nbins=5)
        many = len(series) > 12  # two narrow columns low on the right, under the late runs
        ax.legend(fontsize="xx-small" if many else "x-small", loc="lower right",
                  ncol=2 if many else 1)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
