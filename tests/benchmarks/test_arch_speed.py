"""benchmarks/arch_speed.py times untrained layouts through onnxruntime."""

from __future__ import annotations

import json

import pytest
from benchhelpers import load_script

pytest.importorskip("torch")


def test_layouts_are_parsed_and_each_one_timed(tmp_path):
    script = load_script("arch_speed")
    assert script.parse_layout("32-64/2-1") == {
        "widths": [32, 64], "blocks": [2, 1], "unshuffle": 2}
    assert script.parse_layout("32-64/2-1/16x2") == {
        "widths": [32, 64], "blocks": [2, 1], "unshuffle": 2, "full_width": 16, "full_blocks": 2}
    assert script.parse_layout("32-64/2-1/u1") == {
        "widths": [32, 64], "blocks": [2, 1], "unshuffle": 1}
    assert script.parse_layout("32-64/2-1/a2/w4/h2") == {
        "widths": [32, 64], "blocks": [2, 1], "unshuffle": 2, "attention": [2], "window": 4,
        "heads": 2}
    assert script.parse_layout("32-64/2-1/n16-64") == {
        "widths": [32, 64], "blocks": [2, 1], "unshuffle": 2, "hidden": [16, 64]}
    out = tmp_path / "speed.json"
    assert script.main(["--layout", "8-16/1-1", "--layout", "16-16/1-0",
                        "--layout", "8-16/1-1/4x1", "--layout", "8-16/1-1/u1",
                        "--layout", "8-16/1-1/a1/w4", "--layout", "8-16/1-1/n4-8",
                        "--size", "64", "--repeat", "1",
                        "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["layout"] for r in rows] == ["8-16/1-1", "16-16/1-0", "8-16/1-1/4x1",
                                            "8-16/1-1/u1", "8-16/1-1/a1/w4", "8-16/1-1/n4-8"]
    assert all(r["sec_per_mp"] > 0 for r in rows)


def test_int8_times_each_layout_quantised_as_well(tmp_path):
    pytest.importorskip("onnxruntime.quantization")
    script = load_script("arch_speed")
    out = tmp_path / "speed.json"
    assert script.main(["--layout", "8-16/1-1", "--int8", "--float-adds", "--size", "64",
                        "--repeat", "1", "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["layout"] for r in rows] == ["8-16/1-1", "8-16/1-1 int8"]
    assert all(r["sec_per_mp"] > 0 for r in rows)


def test_float_scale_keeps_the_full_resolution_level_out_of_int8(tmp_path):
    pytest.importorskip("onnxruntime.quantization")
    import onnx

    script = load_script("arch_speed")
    layout = script.parse_layout("8-16/1-1/u1")

    def int8_convs(scale: float) -> int:
        path = tmp_path / f"fs{scale:g}.onnx"
        script.session(layout, 3, 1, path, int8=True, float_adds=True, float_scale=scale)
        graph = onnx.load(str(path.with_suffix(".int8.onnx"))).graph
        dequantised = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
        return sum(n.op_type == "Conv" and n.input[1] in dequantised for n in graph.node)

    everything, level0_float = int8_convs(2.0), int8_convs(1.0)
    assert 0 < level0_float < everything
    out = tmp_path / "speed.json"
    assert script.main(["--layout", "8-16/1-1/u1", "--int8", "--float-adds", "--float-scale",
                        "1", "--size", "64", "--repeat", "1", "--threads", "1",
                        "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["layout"] for r in rows] == ["8-16/1-1/u1", "8-16/1-1/u1 int8 fs1"]
