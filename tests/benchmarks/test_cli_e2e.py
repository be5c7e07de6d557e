"""benchmarks/cli_e2e.py on a tiny JPEG with a fixture model: stages timed, memory read."""

from __future__ import annotations

import json

import pytest
from benchhelpers import load_script

pytest.importorskip("onnx")


def test_cli_e2e_tiny(capsys, tmp_path, color_model):
    e2e = load_script("cli_e2e")
    out_json = tmp_path / "cli.json"
    code = e2e.main(["--mp", "0.05", "--model", str(color_model), "--threads", "1",
                     "--json", str(out_json)])
    assert code == 0
    assert "decode" in capsys.readouterr().out
    result = json.loads(out_json.read_text())
    (row,) = result["rows"]
    assert row["rc"] == 0 and row["mp"] == 0.05
    for stage in e2e.STAGES:
        assert row[f"{stage}_s"] >= 0
    assert row["denoise_s"] > 0 and row["decode_s"] > 0 and row["encode_s"] > 0
    assert row["peak_mb"] > 0 and row["wall_s"] >= row["denoise_s"]
    assert result["command"].startswith("python benchmarks/cli_e2e.py --mp 0.05 --model")


def test_stand_in_model_when_none_is_installed(tmp_path, models_dir):
    e2e = load_script("cli_e2e")
    path, label = e2e.pick_model(None, tmp_path)
    assert path.endswith(".onnx") and "stand-in" in label
