"""The shipped models' curves: each model's runs, end to end, from its ONNX metadata."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from training.curves import plot_lineages, shipped_lineages, validation_series
from training.report import main


def _log(folder: Path, run: str, rows: list[tuple[int, str]]) -> Path:
    path = folder / f"{run}-log.csv"
    path.write_text("step,seconds,lr,loss,rec,kl,val_psnr\n"
                    + "".join(f"{s},1.0,1e-4,0.1,0.1,0,{v}\n" for s, v in rows))
    return path


def _model(path: Path, name: str, stages: list[dict]) -> Path:
    node = helper.make_node("Identity", ["x"], ["y"])
    value = helper.make_tensor_value_info
    graph = helper.make_graph([node], name, [value("x", TensorProto.FLOAT, [1])],
                              [value("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph)
    helper.set_model_props(model, {"name": name, "training_stages": json.dumps(stages)})
    onnx.save(model, path)
    return path


STAGES = [{"run": "a", "steps": 200}, {"run": "b", "steps": 100}]


def test_each_stage_goes_on_from_the_step_its_successor_started_from(tmp_path):
    logs = {"a": _log(tmp_path, "a", [(100, "28.0"), (150, ""), (200, "28.5"), (300, "29.9")]),
            "b": _log(tmp_path, "b", [(50, "28.7"), (100, "28.8")])}
    series = validation_series(STAGES, logs)
    # a's row at 300 came after the checkpoint b started from; rows with no PSNR are skipped
    assert series == [("a", [100, 200], [28.0, 28.5]), ("b", [250, 300], [28.7, 28.8])]
    assert validation_series([{"run": "gone", "steps": 50}, *STAGES[1:]],
                             {"b": logs["b"]}) == [("b", [100, 150], [28.7, 28.8])]


def test_an_int8_copy_of_a_model_is_drawn_once(tmp_path):
    models = [_model(tmp_path / "m-int8.onnx", "m-int8", STAGES),
              _model(tmp_path / "m.onnx", "m", STAGES),
              _model(tmp_path / "n.onnx", "n", STAGES[:1])]
    assert shipped_lineages(models) == {"m": STAGES, "n": STAGES[:1]}


def test_report_draws_the_shipped_models_and_every_run(tmp_path):
    logs = [_log(tmp_path, "a", [(100, "28.0"), (200, "28.5")]),
            _log(tmp_path, "b", [(50, "28.7"), (100, "28.8")])]
    model = _model(tmp_path / "m.onnx", "m", STAGES)
    out = tmp_path / "docs"
    main(["--logs", *map(str, logs), "--models", str(model), "--out", str(out)])
    page = (out / "models.md").read_text()
    assert "(training-curves.png)" in page and "(training-curves-all.png)" in page
    assert (out / "training-curves.png").stat().st_size > 10_000
    assert (out / "training-curves-all.png").stat().st_size > 10_000


@pytest.mark.parametrize("runs", [1, 14])
def test_a_panel_takes_one_run_or_many(tmp_path, runs):
    stages = [{"run": f"r{i}", "steps": 100} for i in range(runs)]
    logs = {f"r{i}": _log(tmp_path, f"r{i}", [(50, f"{28 + i / 10}"), (100, f"{28.05 + i / 10}")])
            for i in range(runs)}
    plot_lineages({"m": stages}, logs, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
