"""A staged model counts every run it went through: trainer, exporter and curves agree."""

from __future__ import annotations

import copy
import csv
import json

import onnx

from training import checkpoint, lineage
from training.export import export
from training.report import plot_curves, stage_offsets
from training.train import train


def staged_runs(tmp_path, image_root, recipe):
    """A first run of 6 steps, then a grown stage warm-started from it, run twice (resumed)."""
    recipe["train"]["steps"] = 6
    train(recipe, tmp_path / "first", image_root, max_minutes=None, threads=1)
    grown = copy.deepcopy(recipe)
    grown["name"] = "tiny-grown"
    grown["arch"]["blocks"] = [2, 1]
    grown["init"] = str(tmp_path / "first" / "last.pt")
    grown["train"]["steps"] = 4
    train(grown, tmp_path / "grown", image_root, max_minutes=None, threads=1)
    grown["train"]["steps"] = 5  # resumed: the history survives the restart
    train(grown, tmp_path / "grown", image_root, max_minutes=None, threads=1)
    return tmp_path / "grown" / "last.pt"


def test_warm_start_records_the_runs_before(tmp_path, image_root, tiny_recipe):
    state = checkpoint.load(staged_runs(tmp_path, image_root, tiny_recipe))
    assert state["before"] == [{"run": "tiny", "steps": 6}]
    assert lineage.steps_before(state) == 6 and lineage.total_steps(state) == 11
    assert [s["run"] for s in lineage.stages(state)] == ["tiny", "tiny-grown"]
    compact = checkpoint.compact(state)  # what gets committed keeps it
    assert lineage.total_steps(compact) == 11
    third = {"recipe": {"name": "third"}, "step": 2, "before": lineage.stages(compact)}
    assert lineage.total_steps(third) == 13 and len(lineage.stages(third)) == 3


def test_export_counts_every_stage(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "grown.onnx"
    export(staged_runs(tmp_path, image_root, tiny_recipe), out, "0.1.0", [])
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["training_steps"] == "11"
    assert json.loads(meta["training_stages"]) == [
        {"run": "tiny", "steps": 6}, {"run": "tiny-grown", "steps": 5}]


def test_curves_draw_a_stage_from_where_its_predecessors_stopped(tmp_path, image_root,
                                                                tiny_recipe):
    ckpt = staged_runs(tmp_path, image_root, tiny_recipe)
    runs = [tmp_path / "first" / "log.csv", tmp_path / "grown" / "log.csv"]
    assert stage_offsets(runs) == {"tiny": 0, "tiny-grown": 6}
    # committed copies: the first run's checkpoint is gone, the grown one still knows its start
    committed = tmp_path / "checkpoints"
    committed.mkdir()
    checkpoint.save(committed / "tiny-grown.pt", checkpoint.compact(checkpoint.load(ckpt)))
    for name in ("tiny", "tiny-grown"):
        with open(committed / f"{name}-log.csv", "w", newline="") as f:
            csv.writer(f).writerows([["step", "loss", "val_psnr"], [2, 0.1, "20.0"]])
    logs = [committed / "tiny-log.csv", committed / "tiny-grown-log.csv"]
    assert stage_offsets(logs) == {"tiny": 0, "tiny-grown": 6}
    plot_curves(logs, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
