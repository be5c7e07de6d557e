"""Build docs/benchmarks.md from the JSON the benchmark scripts wrote: no typed-in figures.

    python benchmarks/make_docs.py --bench bench.json --peers peers.json --cli cli.json
        [--gui-log gui.txt] [--out docs/benchmarks.md]

Inputs (each optional; a missing one leaves its section saying how to produce it):
  --bench    ``denoiser bench ... --json bench.json``
  --peers    ``python benchmarks/peers.py ... --json peers.json``
  --cli      ``python benchmarks/cli_e2e.py ... --json cli.json``
  --gui-log  the printed output of ``scripts/measure_first_result.py`` (it writes no JSON),
             e.g. ``python scripts/measure_first_result.py --repeat 3 | tee gui.txt``

Every table is followed by the exact command that produced it, and the targets are checked
against the figures rather than asserted. Inputs that look like smoke-test runs (a stand-in
model, images under 1 MP) put a warning at the top of the page.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

TARGET_MP_S = 1.0  # ae-color on the 2-core CPU
TARGET_CLI_S, TARGET_CLI_MB = 30.0, 1.5 * 1024  # 24 MP through the CLI; peak in MiB
TARGET_GUI_S = 1.0  # first denoised view
GUI_COMMAND = "python scripts/measure_first_result.py --megapixels 24 --repeat 3 | tee gui.txt"
COMMANDS = {
    "bench": "denoiser bench --sizes 1 12 24 --repeat 3 --json bench.json",
    "peers": "python benchmarks/peers.py --data ../shared/datasets/test/CBSD68 --crop 256 "
             "--threads 2 --json peers.json",
    "cli": "python benchmarks/cli_e2e.py --mp 6 24 96 --json cli.json",
}


# ----------------------------------------------------------------------------- helpers


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table (numbers right-aligned by the reader's renderer, not by padding)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def machine_line(result: dict) -> str:
    m = result.get("machine", {})
    return (f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
            f"{m.get('threads', '?')} threads, onnxruntime {m.get('onnxruntime', '?')}, "
            f"{m.get('platform', '?')}.")


def produced_by(result: dict) -> list[str]:
    return ["", machine_line(result), "", "Produced by:", "", "```",
            result.get("command", "(command not recorded)"), "```", ""]


def missing(kind: str) -> list[str]:
    return ["Not measured yet. Run:", "", "```", COMMANDS[kind], "```", ""]


# ----------------------------------------------------------------------------- sections


def bench_section(result: dict | None) -> list[str]:
    """Speed and memory per model, device and image size (`denoiser bench`)."""
    out = ["## Speed and memory per model and device (`denoiser bench`)", ""]
    if result is None:
        return out + missing("bench")
    out.append(f"Synthetic images, sigma {result.get('sigma', 25):g}, median of several runs "
               "after a warm-up; each case in a fresh process. *+image MB* is the peak "
               "resident memory above what the process held once the session had started.")
    out.append("")
    rows = []
    for r in result["rows"]:
        if "error" in r:
            rows.append([r["model"], r["device"], fmt(r["megapixels"]), "failed: " + r["error"],
                         "", "", ""])
            continue
        extra = (None if r.get("peak_rss_mb") is None or r.get("base_rss_mb") is None
                 else r["peak_rss_mb"] - r["base_rss_mb"])
        rows.append([r["model"], r["device"], fmt(r["megapixels"]), fmt(r["mp_per_s"]),
                     fmt(r["median_s"]), fmt(r.get("peak_rss_mb"), 0), fmt(extra, 0)])
    out += table(["model", "device", "MP", "MP/s", "median s", "peak MB", "+image MB"], rows)
    return out + produced_by(result)


def peers_section(result: dict | None) -> list[str]:
    """Our models beside NLM, CBM3D and a DnCNN-size network (benchmarks/peers.py)."""
    out = ["## Beside the peers (`benchmarks/peers.py`)", ""]
    if result is None:
        return out + missing("peers")
    out.append(f"Same images ({result.get('data', '?')}), same threads, Gaussian noise sigma "
               f"{result.get('sigma', 25):g} seeded by image index. *x ours* is seconds per "
               f"megapixel divided by {result.get('reference') or 'our model'}'s. The "
               "DnCNN-size network has random weights: its time is real, its PSNR would not "
               "be, so none is given.")
    out.append("")
    rows = [[r["method"], fmt(r["sec_per_mp"], 3), fmt(r.get("ratio_to_ours")),
             "n/a" if r.get("psnr") is None else fmt(r["psnr"]), r["region"]]
            for r in result["rows"]]
    out += table(["method", "s per MP", "x ours", "PSNR dB", "measured on"], rows)
    out += [f"\nNot measured: {s}." for s in result.get("skipped", [])]
    return out + produced_by(result)


def cli_section(result: dict | None) -> list[str]:
    """The CLI end to end per JPEG size (benchmarks/cli_e2e.py)."""
    out = ["## The command line end to end (`benchmarks/cli_e2e.py`)", ""]
    if result is None:
        return out + missing("cli")
    out.append(f"`denoiser photo.jpg` on a synthetic noisy JPEG; model {result.get('model')}, "
               f"tile {result.get('tile')}, sigma {result.get('sigma')}. Seconds per stage, "
               "wall-clock total of the process, and its peak resident memory.")
    out.append("")
    rows = []
    for r in result["rows"]:
        if "error" in r:
            rows.append([f"{r['mp']:g}", "failed: " + r["error"]] + [""] * 9)
            continue
        rows.append([f"{r['mp']:g}", f"{r['width']}x{r['height']}", fmt(r["decode_s"]),
                     fmt(r["estimate_s"]), fmt(r["session_s"]), fmt(r["denoise_s"]),
                     fmt(r["encode_s"]), fmt(r["other_s"]), fmt(r["wall_s"]),
                     fmt(r["peak_mb"], 0), str(r["rc"])])
    out += table(["MP", "pixels", "decode s", "estimate s", "session s", "denoise s",
                  "encode s", "other s", "total s", "peak MB", "exit"], rows)
    return out + produced_by(result)


# ----------------------------------------------------------------------------- targets


def parse_gui_log(text: str) -> dict | None:
    """Figures from measure_first_result.py's printed output, or None if it has none."""
    first = re.search(r"first denoised view painted: median ([\d.]+) s", text)
    if first is None:
        return None
    image = re.search(r"image (\d+)x(\d+) \(([\d.]+) MP\), model (\S+),", text)
    return {"median_s": float(first.group(1)),
            "megapixels": float(image.group(3)) if image else None,
            "model": image.group(4) if image else None}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def target_speed(bench: dict | None) -> list[str]:
    rows = [r for r in (bench or {}).get("rows", [])
            if r.get("model") == "ae-color" and r.get("device") == "cpu" and "error" not in r]
    name = f"ae-color >= {TARGET_MP_S:g} MP/s on the 2-core CPU"
    if not rows:
        return [name, f"not measured: run `{COMMANDS['bench']}`", "-"]
    worst = min(rows, key=lambda r: r["mp_per_s"])
    return [name, f"{worst['mp_per_s']:.2f} MP/s (slowest size, {worst['megapixels']:.0f} MP)",
            _verdict(worst["mp_per_s"] >= TARGET_MP_S)]


def target_cli(cli: dict | None) -> list[str]:
    name = f"24 MP through the CLI <= {TARGET_CLI_S:g} s and <= 1.5 GB peak"
    rows = [r for r in (cli or {}).get("rows", []) if abs(r["mp"] - 24) < 0.5 and "error" not in r]
    if not rows:
        return [name, f"not measured: run `{COMMANDS['cli']}`", "-"]
    r = rows[0]
    ok = r["wall_s"] <= TARGET_CLI_S and r["peak_mb"] <= TARGET_CLI_MB and r["rc"] == 0
    return [name, f"{r['wall_s']:.1f} s, {r['peak_mb']:.0f} MB ({cli.get('model')})",
            _verdict(ok)]


def target_gui(gui: dict | None) -> list[str]:
    name = f"GUI first denoised view <= {TARGET_GUI_S:g} s"
    if gui is None:
        return [name, "to be filled in by a person on a desktop: run "
                f"`{GUI_COMMAND}`, then pass `--gui-log gui.txt`", "-"]
    size = f", {gui['megapixels']:g} MP" if gui.get("megapixels") else ""
    return [name, f"{gui['median_s']:.2f} s (median{size}, {gui.get('model')})",
            _verdict(gui["median_s"] <= TARGET_GUI_S)]


def targets_section(bench: dict | None, cli: dict | None, gui: dict | None) -> list[str]:
    rows = [target_speed(bench), target_cli(cli), target_gui(gui)]
    out = ["## Targets", ""] + table(["target", "measured", "status"], rows)
    if gui is not None:
        out += ["", "GUI figure from the output of:", "", "```", GUI_COMMAND, "```"]
    return out + [""]


def smoke_warnings(bench: dict | None, peers: dict | None, cli: dict | None) -> list[str]:
    """Say so loudly when the inputs are smoke tests rather than the real runs."""
    notes = []
    if bench and all(r.get("megapixels", 0) < 0.9 for r in bench["rows"]):
        notes.append("`denoiser bench` ran on images under 1 MP only")
    if cli and "stand-in" in str(cli.get("model")):
        notes.append("the CLI figures use a stand-in model, not a shipped one")
    if cli and all(r["mp"] < 6 for r in cli["rows"]):
        notes.append("the CLI ran on images under 6 MP only")
    if peers and not any(r.get("kind") == "ours" for r in peers["rows"]):
        notes.append("no model of ours was measured beside the peers")
    if peers and any("dncnn-size" in r["method"] and "(17x64" not in r["method"]
                     for r in peers["rows"]):
        notes.append("the DnCNN-size network was shrunk")
    if not notes:
        return []
    return ["> **Tiny test case, not the real benchmark:** " + "; ".join(notes) + ".", ""]


# ----------------------------------------------------------------------------- main


def render(bench: dict | None, peers: dict | None, cli: dict | None,
           gui: dict | None = None) -> str:
    """The whole page as Markdown."""
    lines = ["# Benchmarks", "",
             "Generated by `benchmarks/make_docs.py` from the JSON written by the benchmark "
             "scripts; do not edit the figures by hand, re-run the commands below.", ""]
    lines += smoke_warnings(bench, peers, cli)
    lines += targets_section(bench, cli, gui)
    lines += bench_section(bench) + peers_section(peers) + cli_section(cli)
    return "\n".join(lines).rstrip() + "\n"


def _load(path: Path | None) -> dict | None:
    return None if path is None else json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", type=Path, help="JSON from `denoiser bench --json`")
    p.add_argument("--peers", type=Path, help="JSON from benchmarks/peers.py --json")
    p.add_argument("--cli", type=Path, help="JSON from benchmarks/cli_e2e.py --json")
    p.add_argument("--gui-log", type=Path, help="printed output of measure_first_result.py")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = p.parse_args(argv)
    gui = None
    if args.gui_log is not None:
        gui = parse_gui_log(args.gui_log.read_text(encoding="utf-8"))
        if gui is None:
            print(f"{args.gui_log} has no 'first denoised view painted' line; "
                  "leaving the GUI row for a person to fill", file=sys.stderr)
    page = render(_load(args.bench), _load(args.peers), _load(args.cli), gui)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
