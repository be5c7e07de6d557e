"""Write docs/models.md from evaluation JSON files and training logs: no figure typed by hand.

``python -m training.report --eval docs/eval/*.json --logs runs/*/log.csv``
``--models resources/models/*.onnx --out docs``
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from training.evaluate import setting_label, setting_order

RECIPES = Path(__file__).parent / "recipes"
PUBLISHED = {  # published PSNR (dB), sigma 15 / 25 / 50, from the papers (for reference only)
    "CBSD68": {"FFDNet": ["33.87", "31.21", "27.96"], "DRUNet": ["34.30", "31.69", "28.51"]},
    "BSD68": {"DnCNN": ["31.73", "29.23", "26.23"], "DRUNet": ["31.91", "29.48", "26.59"]},
    "Set12": {"DnCNN": ["32.86", "30.44", "27.18"], "DRUNet": ["33.25", "30.94", "27.90"]},
}


def run_name(log: Path) -> str:
    """``runs/NAME/log.csv`` or its committed copy ``training/checkpoints/NAME-log.csv``."""
    return log.parent.name if log.stem == "log" else log.stem.removesuffix("-log")


def stage_offsets(logs: list[Path], recipes: Path = RECIPES) -> dict[str, int]:
    """Where each run's steps start, from the checkpoints beside the logs
    (:mod:`training.lineage`): a later stage goes on from its predecessors' total, even when
    their own checkpoints are gone. A run no checkpoint mentions starts where the log of the
    run its recipe's ``init`` names ends; failing that, at 0."""
    from training import checkpoint, lineage  # torch only when a checkpoint is there

    offsets: dict[str, int] = {}
    for log in logs:
        ckpt = log.parent / "last.pt" if log.stem == "log" else \
            log.with_name(run_name(log) + ".pt")
        if ckpt.exists():
            at = 0
            for stage in lineage.stages(checkpoint.load(ckpt)):
                offsets.setdefault(stage["run"], at)
                at += int(stage["steps"])
    ends = {run_name(log): last_step(log) for log in logs}

    def start(run: str, seen: frozenset[str] = frozenset()) -> int:
        if run not in offsets:
            parent = init_run(recipes / f"{run}.yaml")
            if parent not in ends or parent in seen | {run}:
                return 0
            offsets[run] = start(parent, seen | {run}) + ends[parent]
        return offsets[run]

    for run in ends:
        start(run)
    return offsets


def last_step(log: Path) -> int:
    with open(log) as f:
        rows = list(csv.DictReader(f))
    return int(rows[-1]["step"]) if rows else 0


def init_run(recipe: Path) -> str | None:
    """The run whose checkpoint a recipe starts from (``init: .../NAME.pt``, or a run
    folder's own ``runs/NAME/last.pt``), if any."""
    if not recipe.exists():
        return None
    import yaml

    init = (yaml.safe_load(recipe.read_text()) or {}).get("init")
    if not init:
        return None
    path = Path(init)
    return path.parent.name if path.name == "last.pt" else path.stem


def plot_curves(logs: list[Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 5.5))
    offsets = stage_offsets(logs)
    colours = plt.get_cmap("tab20").colors  # more runs than the default cycle's ten colours
    for i, log in enumerate(logs):
        with open(log) as f:
            rows = list(csv.DictReader(f))
        name = run_name(log)
        at = offsets.get(name, 0)
        style = {"label": name, "color": colours[i % len(colours)]}
        loss = [(at + int(r["step"]), float(r["loss"])) for r in rows]
        if all(v > 0 for _, v in loss):  # a log_mse run's loss is a negative log: not here
            ax_loss.plot(*zip(*loss), **style)
        val = [(at + int(r["step"]), float(r["val_psnr"])) for r in rows if r["val_psnr"]]
        if val:
            ax_psnr.plot(*zip(*val), **style)
    ax_loss.set(xlabel="step (a later stage goes on from its predecessors' steps)",
                ylabel="training loss (smoothed)", yscale="log")
    ax_loss.set_title("log_mse runs, whose loss is a negative log, only on the right",
                      fontsize="small")
    ax_psnr.set(xlabel="step", ylabel="validation PSNR (dB), sigma 25")
    for ax in (ax_loss, ax_psnr):
        ax.grid(alpha=0.3)
        ax.locator_params(axis="x", nbins=6)  # six-digit steps: fewer ticks keep them apart
    # one legend below both plots: twenty runs in each plot's corner would hide the curves
    handles = {}
    for ax in (ax_loss, ax_psnr):
        handles.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    ncol, axes_in = 5, 5.0
    legend_in = 0.2 * -(-len(handles) // ncol) + 0.2  # its rows of small text, in inches
    fig.set_size_inches(11, axes_in + legend_in)  # the legend grows the figure, not the axes
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol,
               fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, legend_in / (axes_in + legend_in), 1, 1))
    fig.savefig(out, dpi=110)


def curves_section(logs: list[Path], models: list[Path], out: Path) -> list[str]:
    """The pictures of the training curves and the lines that show them."""
    lines = ["## Training curves", ""]
    if models:
        from training.curves import plot_lineages, shipped_lineages

        by_run = {run_name(log): log for log in logs}
        plot_lineages(shipped_lineages(models), by_run, out / "training-curves.png")
        lines += ["Validation PSNR of each shipped model through all the runs it went through "
                  "(a warm-started run goes on from the step its predecessor's checkpoint was "
                  "taken), on the top dB of each:", "",
                  "![training curves of the shipped models](training-curves.png)", "",
                  "Every run, the experiments that shipped nothing included:", ""]
    name = "training-curves-all.png" if models else "training-curves.png"
    plot_curves(logs, out / name)
    return lines + [f"![training curves]({name})", ""]


def merge_results(results: list[dict]) -> list[dict]:
    """One table per model and data set: evaluations split over several calls (a slow peer
    run per sigma, say) are joined, so the model's figures appear once. Calls whose shared
    figures disagree, or whose methods saw different numbers of images, stay apart."""
    merged: list[dict] = []
    for res in results:
        into = next((m for m in merged if _joinable(m, res)), None)
        if into is None:
            merged.append({**res, "methods": {k: dict(v) for k, v in res["methods"].items()},
                           "command": _commands(res)})
            continue
        for name, by in res["methods"].items():
            into["methods"].setdefault(name, {}).update(by)
        into["command"] += [c for c in _commands(res) if c not in into["command"]]
        if "vae" in res:
            into["vae"] = {**into.get("vae", {}), **res["vae"]}
    return merged


def _commands(res: dict) -> list[str]:
    c = res.get("command", [])
    return [c] if isinstance(c, str) else list(c)


def _joinable(a: dict, b: dict) -> bool:
    """Same data, same model first, and every method both hold saw the same images and,
    at the settings both hold, measured the same."""
    if a["data"] != b["data"] or next(iter(a["methods"])) != next(iter(b["methods"])):
        return False
    for name, by in b["methods"].items():
        have = a["methods"].get(name)
        if not have:
            continue
        images = next(iter(have.values()))["images"]
        if any(r["images"] != images for r in by.values()):
            return False
        if any(have[s]["psnr"] != r["psnr"] for s, r in by.items() if s in have):
            return False
    return True


def eval_table(res: dict) -> list[str]:
    seen = dict.fromkeys(s for m in res["methods"].values() for s in m)
    sigmas = sorted(seen, key=setting_order)
    cols = " | ".join(f"{setting_label(s)}: PSNR / SSIM" for s in sigmas)
    head = f"| method | {cols} |"
    title = f"### {next(iter(res['methods']))} on {res['data']}"
    lines = [title, "", head, "|---" * (len(sigmas) + 1) + "|"]
    for name, by in res["methods"].items():
        cells = [f"{by[s]['psnr']:.2f} / {by[s]['ssim']:.4f}" if s in by else "" for s in sigmas]
        n = next(iter(by.values()))["images"]
        lines.append(f"| {name} ({n} images) | " + " | ".join(cells) + " |")
    for name, vals in PUBLISHED.get(res["data"], {}).items():
        levels = ["15", "25", "50"]
        cells = [vals[levels.index(s)] if s in levels else "" for s in sigmas]
        lines.append(f"| {name} (published) | " + " | ".join(cells) + " |")
    lines += detail_table(res)
    lines += colour_table(res)
    if "vae" in res:
        lines += ["", "VAE uncertainty at sigma 25: " +
                  ", ".join(f"{k} = {v:.3f}" for k, v in res["vae"].items())]
    commands = _commands(res)
    if len(commands) == 1:
        lines += ["", f"Reproduce: `{commands[0]}`"]
    elif commands:
        lines += ["", "Reproduce:", ""] + [f"- `{c}`" for c in commands]
    return lines + [""]


def detail_table(res: dict) -> list[str]:
    """PSNR by local detail (training/detail.py), when the evaluation recorded it: where in
    the pictures a method wins or loses, from flat areas to fine texture."""
    rows = [(name, s, by[s]["psnr_by_detail"]) for name, by in res["methods"].items()
            for s in sorted(by, key=setting_order) if "psnr_by_detail" in by[s]]
    if not rows:
        return []
    lines = ["", "PSNR (dB) by local detail: the 16x16 blocks of all images in four equal "
             "shares, ranked by the standard deviation of the clean luminance.", "",
             "| method | setting | flattest | 2nd | 3rd | most detailed |", "|---" * 6 + "|"]
    for name, s, d in sorted(rows, key=lambda r: (setting_order(r[1]), r[0] != rows[0][0])):
        lines.append(f"| {name} | {setting_label(s)} | "
                     + " | ".join(f"{v:.2f}" for v in d["psnr"]) + " |")
    return lines


def colour_table(res: dict) -> list[str]:
    """Error by colour part (training/colour_error.py), when the evaluation recorded it:
    whether a colour method loses on brightness or on colour, coarse or fine."""
    rows = [(name, s, by[s]["mse_by_colour"]) for name, by in res["methods"].items()
            for s in sorted(by, key=setting_order) if "mse_by_colour" in by[s]]
    if not rows:
        return []
    parts = rows[0][2]["parts"]
    lines = ["", "Mean squared error (0..255 scale) by colour part: luminance and colour in an "
             "orthonormal opponent basis, each split into the mean of every 2x2 block (coarse) "
             "and the rest (fine); the four add up to the error of the whole. In brackets, the "
             "share of the clean image's fine colour detail the output keeps.", "",
             "| method | setting | " + " | ".join(parts) + " |", "|---" * (len(parts) + 2) + "|"]
    for name, s, d in sorted(rows, key=lambda r: (setting_order(r[1]), r[0] != rows[0][0])):
        kept = res["methods"][name][s].get("kept_by_colour")
        cells = [f"{v:.2f}" for v in d["mse"]]
        if kept:
            fine = parts.index("colour fine")
            cells[fine] += f" ({kept['kept'][fine]:.0%} kept)"
        lines.append(f"| {name} | {setting_label(s)} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eval", type=Path, nargs="*", default=[])
    p.add_argument("--logs", type=Path, nargs="*", default=[])
    p.add_argument("--models", type=Path, nargs="*", default=[],
                   help="shipped ONNX models: a panel of curves each, from their stages")
    p.add_argument("--intro", type=Path, help="Markdown placed before the tables")
    p.add_argument("--out", type=Path, default=Path("docs"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# Models", ""]
    if args.intro:
        lines += [args.intro.read_text().strip(), ""]
    lines += ["## Evaluation", "", "Measured by `training.evaluate` under the protocol of "
              "`../shared/datasets/README.md`; peers ran in the same call. Speed is not shown "
              "here (these runs shared the CPU with training): `docs/benchmarks.md` has it.", ""]
    for res in merge_results([json.loads(path.read_text()) for path in args.eval]):
        lines += eval_table(res)
    if args.logs:
        lines += curves_section(args.logs, args.models, args.out)
    (args.out / "models.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
