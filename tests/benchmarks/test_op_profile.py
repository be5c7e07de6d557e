"""benchmarks/op_profile.py: time per operator type at each thread count."""

from __future__ import annotations

import json

from benchhelpers import load_script


def test_each_thread_count_gets_its_operator_times(tmp_path, build):
    model = build.mean(tmp_path / "mean.onnx", 3, layers=2, meta=build.color_meta)
    out = tmp_path / "ops.json"
    script = load_script("op_profile")
    assert script.main(["--model", str(model), "--size", "64", "--threads", "1", "2",
                        "--repeat", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["ms_by_threads"]) == {"1", "2"}
    for ops in report["ms_by_threads"].values():
        assert set(ops) >= {"Conv"} and all(ms >= 0 for ms in ops.values())
    assert report["command"].startswith("python benchmarks/op_profile.py --model ")
