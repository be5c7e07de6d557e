"""Run every benchmark with the arguments docs/benchmarks.md is built from, then rebuild it.

    python benchmarks/run_all.py --data ../shared/datasets [--scratch build/benchmarks]
        [--steps quantize quality tiles bench peers cli docs] [--ship] [--gui-log gui.txt]

Why one script: the shipped models are retrained and replaced, and the page must follow
them without anyone retyping a command. Each step writes its JSON into ``--scratch`` (under
build/, which git ignores) and ``docs`` renders whatever JSON is there, so a step can be
re-run on its own (say ``--steps cli docs``) and the page keeps the other figures.

Steps, in order:
  quantize  int8 variant of the reference model (``--model``, default ae-color) calibrated
            on ``DATA/train/CBSD432``: ``training.quantize``, with 7-bit weights
            (``--reduce-range``), which CPUs without VNNI multiply without saturating
  quality   ``training.evaluate`` of the model and of the variant on ``DATA/test/CBSD68`` at
            sigma 15, 25, 50; with ``--ship``, a variant within 0.1 dB at every sigma is
            copied into the models folder (and a stale shipped one that fails is reported)
  tiles     ``denoiser bench --tile N`` on 24 MP for a few tile sizes
  bench     ``denoiser bench`` on the reference model and its variant (``--bench-all``: and
            every other float model in the models folder, a few minutes each)
  peers     ``benchmarks/peers.py`` (CBM3D and the DnCNN-size net on a few images only)
  cli       ``benchmarks/cli_e2e.py`` on 6, 24 and 96 MP JPEGs
  docs      ``benchmarks/make_docs.py`` into ``--out`` (default docs/benchmarks.md)

Timing steps want an otherwise idle machine; each records how busy the others kept it.
``--quick`` shrinks every step to a smoke test (the page then says so at the top).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
STEPS = ("quantize", "quality", "tiles", "bench", "peers", "cli", "docs")
TOLERANCE_DB = 0.1


@dataclass(frozen=True)
class Sizes:
    """How big each step's work is: the real run, or ``--quick``'s smoke test."""

    bench_mp: tuple[str, ...] = ("1", "12", "24")
    repeat: str = "3"
    tiles: tuple[str, ...] = ("512", "768", "1024", "1536")
    tile_mp: str = "24"
    cli_mp: tuple[str, ...] = ("6", "24", "96")
    sigmas: tuple[str, ...] = ("15", "25", "50")
    eval_extra: tuple[str, ...] = ()
    calib_extra: tuple[str, ...] = ()
    peers_extra: tuple[str, ...] = ("--slow-limit", "4")


QUICK = Sizes(bench_mp=("0.05",), repeat="1", tiles=("64", "128"), tile_mp="0.05",
              cli_mp=("0.05",), sigmas=("25",), eval_extra=("--limit", "2"),
              calib_extra=("--calib-images", "2", "--crop", "64"),
              peers_extra=("--limit", "2", "--crop", "32", "--dncnn-depth", "3",
                           "--dncnn-width", "8"))


class Paths:
    """Where each step reads and writes, relative to the repository when possible."""

    def __init__(self, args: argparse.Namespace):
        self.scratch, self.models = args.scratch, args.models_dir
        self.model = args.model or reference_model(self.models)
        self.train = args.data / "train" / "CBSD432"
        self.test = args.data / "test" / "CBSD68"
        from denoiser.models import load_model_info

        info = load_model_info(self.model)
        self.name = info.name
        self.variant = self.scratch / f"{info.name}-int8.onnx"
        self.reduced = "precision" in info.metadata  # already int8: nothing to quantise
        self.quantize = self.scratch / "quantize.json"
        self.quality = (self.scratch / "quality-fp32.json", self.scratch / "quality-int8.json")
        self.bench, self.peers = self.scratch / "bench.json", self.scratch / "peers.json"
        self.cli = self.scratch / "cli.json"

    def tile_json(self, tile: str) -> Path:
        return self.scratch / f"tile-{tile}.json"

    def variants(self) -> list[Path]:
        """The variant made by the quantize step, if any; none for a reference that is itself
        int8, where a file left by an older run would be stale."""
        return [self.variant] if self.variant.exists() and not self.reduced else []


def reference_model(folder: Path) -> Path:
    """``ae-color`` in ``folder`` as the app runs it on this CPU: its float32 stand-in where
    int8 is slow (``denoiser.models.with_stand_ins``), else its own file."""
    from denoiser.cpu import int8_is_fast
    from denoiser.models import load_model_info, with_stand_ins

    infos = [load_model_info(p) for p in sorted(folder.glob("*.onnx"))]
    found = [m.path for m in with_stand_ins(infos, int8_is_fast()) if m.name == "ae-color"]
    return found[0] if found else folder / "ae-color.onnx"


def is_variant(path: Path) -> bool:
    """A reduced-precision variant of another model; a network trained for its int8 graph
    ships as that graph under its own name and is none."""
    from denoiser.models import load_model_info

    info = load_model_info(path)
    return "precision" in info.metadata and info.metadata.get("base_model") != info.name


def float_models(folder: Path) -> list[Path]:
    """The models in ``folder`` that are not reduced-precision variants of another."""
    return [p for p in sorted(folder.glob("*.onnx")) if not is_variant(p)]


def rel(path: Path) -> str:
    """``path`` relative to the repository when it is in or beside it (../shared/datasets),
    so that the commands printed in the docs work from any clone; else absolute."""
    relative = os.path.relpath(path.resolve(), ROOT)
    return relative if not relative.startswith(("../../", "..\\..\\")) else str(path.resolve())


def run(cmd: list[str]) -> None:
    """Run one benchmark command from the repository root; stop everything if it fails."""
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def py(*args: str) -> list[str]:
    return [sys.executable, *args]


# ----------------------------------------------------------------------------- steps


def step_quantize(p: Paths, s: Sizes) -> None:
    run(py("-m", "training.quantize", "--model", rel(p.model), "--calib-data", rel(p.train),
           "--out", rel(p.variant), "--json", rel(p.quantize), "--reduce-range",
           *s.calib_extra))


def step_quality(p: Paths, s: Sizes, ship: bool) -> None:
    for model, out in zip((p.model, p.variant), p.quality):
        run(py("-m", "training.evaluate", "--model", rel(model), "--data", rel(p.test),
               "--sigmas", *s.sigmas, *s.eval_extra, "--json", rel(out)))
    ok = subprocess.run(py("-m", "training.quantize", "--gate", *map(rel, p.quality)),
                        cwd=ROOT, check=False).returncode == 0
    shipped = p.models / p.variant.name
    if ok and ship:
        from training.quantize import stamp_benchmarks

        shutil.copyfile(p.variant, shipped)
        stamp_benchmarks(shipped, [p.quality[1]])
        print(f"shipped {rel(shipped)}: within {TOLERANCE_DB:g} dB at every sigma")
    elif not ok and shipped.exists():
        print(f"NOTE: {rel(shipped)} is shipped, but a variant of the current model does not "
              f"keep within {TOLERANCE_DB:g} dB; remove it or retune training.quantize",
              file=sys.stderr)


def step_tiles(p: Paths, s: Sizes) -> None:
    for tile in s.tiles:
        run(py("-m", "denoiser", "bench", "--model", rel(p.model), "--device", "cpu",
               "--sizes", s.tile_mp, "--repeat", "1", "--tile", tile,
               "--json", rel(p.tile_json(tile))))


def step_bench(p: Paths, s: Sizes, every_model: bool) -> None:
    others = [m for m in float_models(p.models) if m.resolve() != p.model.resolve()]
    models = [p.model, *(others if every_model else [])]
    models += p.variants()
    flags = [f for m in models for f in ("--model", rel(m))]
    run(py("-m", "denoiser", "bench", *flags, "--sizes", *s.bench_mp, "--repeat", s.repeat,
           "--json", rel(p.bench)))


def step_peers(p: Paths, s: Sizes) -> None:
    models = float_models(p.models) + p.variants()
    run(py(rel(BENCH / "peers.py"), "--data", rel(p.test), "--threads", "2",
           "--models", *map(rel, models), *s.peers_extra, "--json", rel(p.peers)))


def step_cli(p: Paths, s: Sizes) -> None:
    run(py(rel(BENCH / "cli_e2e.py"), "--mp", *s.cli_mp, "--model", rel(p.model),
           "--json", rel(p.cli)))


def step_docs(p: Paths, out: Path, gui_log: Path | None) -> None:
    """make_docs on every JSON the scratch folder holds (a missing one: its section says so)."""
    args = []
    for flag, path in (("--bench", p.bench), ("--peers", p.peers), ("--cli", p.cli)):
        if path.exists():
            args += [flag, rel(path)]
    tiles = sorted(p.scratch.glob("tile-*.json"), key=_tile_of)
    if tiles:
        args += ["--tiles", *map(rel, tiles)]
    if all(q.exists() for q in p.quality) and not p.reduced:
        args += ["--quant", *map(rel, p.quality)]
        args += [rel(p.quantize)] if p.quantize.exists() else []
    if p.reduced:
        args += ["--int8-reference", p.name]
    if gui_log is not None:
        args += ["--gui-log", rel(gui_log)]
    run(py(rel(BENCH / "make_docs.py"), *args, "--out", rel(out)))


def _tile_of(path: Path) -> int:
    """Sort tile JSONs by tile size, not by name (tile-1024 after tile-768)."""
    rows = json.loads(path.read_text(encoding="utf-8")).get("rows", [])
    return int(rows[0].get("tile", 0)) if rows else 0


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True,
                   help="datasets root with train/CBSD432 and test/CBSD68")
    p.add_argument("--scratch", type=Path, default=ROOT / "build" / "benchmarks",
                   help="where the JSONs and the variant go (default build/benchmarks)")
    p.add_argument("--models-dir", type=Path, default=ROOT / "resources" / "models",
                   help="the shipped models (default resources/models)")
    p.add_argument("--model", type=Path,
                   help="the reference colour model (default: ae-color in MODELS_DIR, or its "
                        "float32 stand-in where this CPU's int8 is slow)")
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS),
                   help="which steps to run, always in the order above (default: all)")
    p.add_argument("--bench-all", action="store_true",
                   help="bench every shipped float model, not only the reference")
    p.add_argument("--ship", action="store_true",
                   help="copy a variant that keeps within 0.1 dB into the models folder")
    p.add_argument("--gui-log", type=Path, help="measure_first_result.py output for the docs")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    paths, sizes = Paths(args), QUICK if args.quick else Sizes()
    steps = {
        "quantize": lambda: step_quantize(paths, sizes),
        "quality": lambda: step_quality(paths, sizes, args.ship),
        "tiles": lambda: step_tiles(paths, sizes),
        "bench": lambda: step_bench(paths, sizes, args.bench_all),
        "peers": lambda: step_peers(paths, sizes),
        "cli": lambda: step_cli(paths, sizes),
        "docs": lambda: step_docs(paths, args.out, args.gui_log),
    }
    skip = {"quantize", "quality"} if paths.reduced else set()
    if skip & set(args.steps):
        print(f"{rel(paths.model)} is itself a reduced-precision graph: no variant to make or "
              "compare (quantize, quality skipped)", file=sys.stderr)
    for name in STEPS:
        if name in args.steps and name not in skip:
            steps[name]()
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
