"""Build docs/benchmarks.md from the JSON the benchmark scripts wrote: no typed-in figures.

    python benchmarks/make_docs.py --bench bench.json --peers peers.json --cli cli.json
        [--tiles tile-512.json tile-1024.json ...] [--quant fp32.json int8.json quantize.json]
        [--gui-log gui.txt] [--out docs/benchmarks.md]

Inputs (each optional; a missing one leaves its section saying how to produce it):
  --bench    ``denoiser bench ... --json bench.json``
  --peers    ``python benchmarks/peers.py ... --json peers.json``
  --cli      ``python benchmarks/cli_e2e.py ... --json cli.json``
  --tiles    one ``denoiser bench --tile N ... --json`` per tile size (the tile sweep)
  --quant    ``training.evaluate --json`` of the float32 model and of its variant, then
             optionally ``training.quantize --json`` (how the variant was made)
  --gui-log  the printed output of ``scripts/measure_first_result.py`` (it writes no JSON),
             e.g. ``python scripts/measure_first_result.py --repeat 3 | tee gui.txt``

``benchmarks/run_all.py`` runs all of them and then this.

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
QUANT_TOLERANCE_DB = 0.1  # a variant ships only if it loses at most this at every sigma
BUSY_CORES = 0.25  # other processes' load from which figures are flagged (as denoiser bench)
GUI_COMMAND = "python scripts/measure_first_result.py --megapixels 24 --repeat 3 | tee gui.txt"
COMMANDS = {
    "bench": "denoiser bench --sizes 1 12 24 --repeat 3 --json bench.json",
    "peers": "python benchmarks/peers.py --data ../shared/datasets/test/CBSD68 --crop 256 "
             "--threads 2 --json peers.json",
    "cli": "python benchmarks/cli_e2e.py --mp 6 24 96 --json cli.json",
    "tiles": "denoiser bench --model ae-color --sizes 24 --repeat 1 --tile N --json tile-N.json",
    "quant": "python benchmarks/run_all.py --data ../shared/datasets --steps quantize quality",
}


# ----------------------------------------------------------------------------- helpers


OTHERS_NOTE = ("*others' cores* is how many cores other processes on the machine kept busy "
               "while the clock ran (from /proc/stat); above zero, the figure is slower than "
               "the machine alone would give.")


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
               "resident memory above what the process held once the session had started. "
               f"{OTHERS_NOTE}")
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
                     fmt(r["median_s"]), fmt(r.get("peak_rss_mb"), 0), fmt(extra, 0),
                     fmt(r.get("others_cores"), 1)])
    out += table(["model", "device", "MP", "MP/s", "median s", "peak MB", "+image MB",
                  "others' cores"], rows)
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
               f"be, so none is given. {OTHERS_NOTE}")
    out.append("")
    rows = [[r["method"], fmt(r["sec_per_mp"], 3), fmt(r.get("ratio_to_ours")),
             "n/a" if r.get("psnr") is None else fmt(r["psnr"]), r["region"],
             fmt(r.get("others_cores"), 1)]
            for r in result["rows"]]
    out += table(["method", "s per MP", "x ours", "PSNR dB", "measured on", "others' cores"],
                 rows)
    out += [f"\nNot measured: {s}." for s in result.get("skipped", [])]
    return out + produced_by(result)


def cli_section(result: dict | None) -> list[str]:
    """The CLI end to end per JPEG size (benchmarks/cli_e2e.py)."""
    out = ["## The command line end to end (`benchmarks/cli_e2e.py`)", ""]
    if result is None:
        return out + missing("cli")
    tile = result.get("tile") or "the model's own (the CLI's default)"
    out.append(f"`denoiser photo.jpg` on a synthetic noisy JPEG; model {result.get('model')}, "
               f"tile {tile}, sigma {result.get('sigma')}. Seconds per stage, "
               f"wall-clock total of the process, and its peak resident memory. {OTHERS_NOTE}")
    out.append("")
    rows = []
    for r in result["rows"]:
        if "error" in r:
            rows.append([f"{r['mp']:g}", "failed: " + r["error"]] + [""] * 10)
            continue
        rows.append([f"{r['mp']:g}", f"{r['width']}x{r['height']}", fmt(r["decode_s"]),
                     fmt(r["estimate_s"]), fmt(r["session_s"]), fmt(r["denoise_s"]),
                     fmt(r["encode_s"]), fmt(r["other_s"]), fmt(r["wall_s"]),
                     fmt(r["peak_mb"], 0), str(r["rc"]), fmt(r.get("others_cores"), 1)])
    out += table(["MP", "pixels", "decode s", "estimate s", "session s", "denoise s",
                  "encode s", "other s", "total s", "peak MB", "exit", "others' cores"], rows)
    return out + produced_by(result)


def tiles_section(results: Sequence[dict]) -> list[str]:
    """The tile-size sweep: one `denoiser bench --tile N` run per size, side by side."""
    out = ["## Tile size (`denoiser bench --tile N`)", ""]
    if not results:
        return out + missing("tiles")
    out.append("The same model and image at several tile sizes. Larger tiles recompute less "
               "overlap but hold more activations in memory; the engine's default tile "
               "(`denoiser.tiling.DEFAULT_TILE`), and a model's own (its `tile` metadata), "
               "are chosen from such a table.")
    out.append("")
    rows = []
    for res in results:
        for r in res["rows"]:
            if "error" in r:
                rows.append([str(r.get("tile", "?")), r["model"], fmt(r["megapixels"]),
                             "failed: " + r["error"], "", "", ""])
                continue
            rows.append([str(r["tile"]), r["model"], fmt(r["megapixels"]), fmt(r["mp_per_s"]),
                         fmt(r["median_s"]), fmt(r.get("peak_rss_mb"), 0),
                         fmt(r.get("others_cores"), 1)])
    out += table(["tile", "model", "MP", "MP/s", "median s", "peak MB", "others' cores"], rows)
    out += ["", machine_line(results[0]), "", "Produced by:", "", "```"]
    return out + [r.get("command", "(command not recorded)") for r in results] + ["```", ""]


def quant_section(reference: dict | None, variant: dict | None, made: dict | None,
                  bench: dict | None, int8_reference: str | None = None) -> list[str]:
    """Quality of the reduced-precision variant beside its float32 model, and its speed; or,
    for a reference that is itself the int8 graph it was trained for, why there is none."""
    out = ["## Reduced precision (`training/quantize.py`)", ""]
    if int8_reference is not None and (reference is None or variant is None):
        return out + [f"`{int8_reference}` is itself the int8 graph its network was trained "
                      "for (`training/qat.py`): there is no float32 model beside it to "
                      "compare. Its scores are in `docs/models.md`.", ""]
    if reference is None or variant is None:
        return out + missing("quant")
    ref_name, var_name = next(iter(reference["methods"])), next(iter(variant["methods"]))
    ref, var = reference["methods"][ref_name], variant["methods"][var_name]
    sigmas = sorted((s for s in ref if s in var), key=float)
    drops = {s: ref[s]["psnr"] - var[s]["psnr"] for s in sigmas}
    how = f" ({_settings_line(made)})" if made else ""
    out.append(f"PSNR on {reference.get('data', '?')} under the evaluation protocol: the "
               f"float32 model beside its reduced-precision variant{how}. The variant "
               f"qualifies for shipping only if it loses at most {QUANT_TOLERANCE_DB:g} dB at "
               "every sigma.")
    out.append("")
    rows = [[s, fmt(ref[s]["psnr"]), fmt(var[s]["psnr"]), f"{-drops[s]:+.3f}",
             fmt(ref[s]["ssim"], 4), fmt(var[s]["ssim"], 4)] for s in sigmas]
    out += table(["sigma", f"{ref_name} PSNR dB", f"{var_name} PSNR dB", "change dB",
                  f"{ref_name} SSIM", f"{var_name} SSIM"], rows)
    worst = max(drops, key=drops.get) if drops else None
    if worst is not None:
        ok = drops[worst] <= QUANT_TOLERANCE_DB
        out += ["", f"Largest loss {drops[worst]:.3f} dB at sigma {worst}: "
                + ("**qualifies** (within" if ok else "**does not qualify** (more than")
                + f" {QUANT_TOLERANCE_DB:g} dB)."]
    out += _quant_speed(bench, (made or {}).get("base_model"), (made or {}).get("name"))
    out += ["", "Produced by:", "", "```"]
    if made:
        out.append(made["command"])
    out += [reference.get("command", "(command not recorded)"),
            variant.get("command", "(command not recorded)"), "```", ""]
    return out


def _settings_line(made: dict) -> str:
    st = made.get("settings", {})
    parts = [f"{made.get('precision')}", st.get("format"), st.get("calibration"),
             st.get("calibration_images")]
    if "float_nodes" in st:
        parts.append(f"{st['float_nodes']} nodes kept in float32 (layers at "
                     f"{st.get('float_scale')} of the input resolution or finer)")
    return ", ".join(str(x) for x in parts if x)


def _quant_speed(bench: dict | None, base: str | None, variant: str | None) -> list[str]:
    """Speed-up of the variant over its base model at each size both were benched at."""
    rows = {(r["model"], round(r["megapixels"])): r for r in (bench or {}).get("rows", [])
            if "error" not in r and r.get("device") == "cpu"}
    pairs = [(mp, rows[(base, mp)], rows[(variant, mp)]) for (name, mp) in sorted(rows)
             if name == base and (variant, mp) in rows]
    if not pairs:
        return ["", "Speed: not benched side by side (see the `denoiser bench` table)."]
    lines = ["", f"Speed from the `denoiser bench` table above (CPU, {base} vs {variant}): "]
    lines[-1] += "; ".join(f"{mp} MP {a['mp_per_s']:.2f} vs {b['mp_per_s']:.2f} MP/s "
                           f"(x{b['mp_per_s'] / a['mp_per_s']:.2f})" for mp, a, b in pairs) + "."
    return lines


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
    rows = [r for r in (bench or {}).get("rows", [])  # ae-color, or its stand-in on this CPU
            if "ae-color" in (r.get("model"), r.get("stands_in_for"))
            and r.get("device") == "cpu" and "error" not in r]
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
    out = busy_warning(bench, peers, cli)
    if not notes:
        return out
    return ["> **Tiny test case, not the real benchmark:** " + "; ".join(notes) + ".", ""] + out


def busy_warning(*results: dict | None) -> list[str]:
    """Say so when other processes kept cores busy while the figures were taken."""
    loads = [r["others_cores"] for res in results if res for r in res.get("rows", [])
             if r.get("others_cores") is not None]
    if not loads or max(loads) < BUSY_CORES:
        return []
    return [f"> **Shared machine:** other processes kept up to {max(loads):.1f} cores busy "
            "while some figures were taken (column *others' cores*); those figures are "
            "slower than the machine alone would give.", ""]


# ----------------------------------------------------------------------------- main


def render(bench: dict | None, peers: dict | None, cli: dict | None,
           gui: dict | None = None, tiles: Sequence[dict] = (),
           quant: Sequence[dict | None] = (), int8_reference: str | None = None) -> str:
    """The whole page as Markdown. ``quant`` is (reference eval, variant eval, quantize);
    ``int8_reference`` names a reference model that is itself int8."""
    reference, variant, made = (list(quant) + [None] * 3)[:3]
    lines = ["# Benchmarks", "",
             "Generated by `benchmarks/make_docs.py` from the JSON written by the benchmark "
             "scripts (`python benchmarks/run_all.py --data ../shared/datasets` runs them "
             "all); do not edit the figures by hand, re-run the commands below.", ""]
    lines += smoke_warnings(bench, peers, cli)
    lines += targets_section(bench, cli, gui)
    lines += bench_section(bench)
    lines += quant_section(reference, variant, made, bench, int8_reference)
    lines += tiles_section(tiles) + peers_section(peers) + cli_section(cli)
    return "\n".join(lines).rstrip() + "\n"


def _load(path: Path | None) -> dict | None:
    return None if path is None else json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", type=Path, help="JSON from `denoiser bench --json`")
    p.add_argument("--peers", type=Path, help="JSON from benchmarks/peers.py --json")
    p.add_argument("--cli", type=Path, help="JSON from benchmarks/cli_e2e.py --json")
    p.add_argument("--tiles", type=Path, nargs="*", default=[],
                   help="JSONs from `denoiser bench --tile N --json`, one per tile size")
    p.add_argument("--quant", type=Path, nargs="+", metavar="JSON",
                   help="training.evaluate --json of the float32 model and of its variant, "
                        "then optionally training.quantize --json")
    p.add_argument("--gui-log", type=Path, help="printed output of measure_first_result.py")
    p.add_argument("--int8-reference", metavar="NAME",
                   help="the reference model is itself int8 (no variant to compare)")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = p.parse_args(argv)
    gui = None
    if args.gui_log is not None:
        gui = parse_gui_log(args.gui_log.read_text(encoding="utf-8"))
        if gui is None:
            print(f"{args.gui_log} has no 'first denoised view painted' line; "
                  "leaving the GUI row for a person to fill", file=sys.stderr)
    if args.quant is not None and len(args.quant) not in (2, 3):
        p.error("--quant takes the two evaluate JSONs and optionally the quantize JSON")
    page = render(_load(args.bench), _load(args.peers), _load(args.cli), gui,
                  [_load(t) for t in args.tiles], [_load(q) for q in args.quant or []],
                  args.int8_reference)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
