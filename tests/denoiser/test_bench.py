"""`denoiser bench` on the tiny fixture models: it runs, prints a row per model and device,
and writes JSON. Speed is never asserted: these machines are shared."""

from __future__ import annotations

import json
import os

import numpy as np

from denoiser import bench, cli
from denoiser.engine import available_devices


def test_bench_prints_a_row_per_model_and_device(capsys, tmp_path, installed_models):
    out_json = tmp_path / "bench.json"
    code = cli.main(["bench", "--sizes", "0.05", "--repeat", "1", "--json", str(out_json)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    rows = [ln for ln in out.splitlines() if ln.startswith(("ae-color", "ae-gray"))]
    assert len(rows) == 2 * len(available_devices())
    result = json.loads(out_json.read_text())
    assert result["command"].startswith("denoiser bench --sizes 0.05 --repeat 1")
    for row in result["rows"]:
        assert "error" not in row
        assert row["mp_per_s"] > 0 and len(row["seconds"]) == 1
        assert abs(row["megapixels"] - 0.05) < 0.01
        assert row["peak_rss_mb"] is None or row["peak_rss_mb"] > 0
        assert "others_cores" in row


def test_a_failing_case_is_a_row_not_a_crash(capsys, tmp_path, installed_models, build):
    broken = build.shrinking(tmp_path / "shrink.onnx")
    code = cli.main(["bench", "--model", str(broken), "--sizes", "0.01", "--repeat", "1",
                     "--device", "cpu"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "failed:" in out


def test_unknown_model_is_a_usage_error(capsys, installed_models):
    assert cli.main(["bench", "--model", "no-such-model", "--sizes", "0.01"]) == 2


def test_synthetic_image_size_and_range():
    img = bench.synthetic_image(0.06, 3)
    assert img.dtype == np.float32 and img.shape[2] == 3
    assert abs(img.shape[0] * img.shape[1] / 1e6 - 0.06) < 0.001
    assert 0.3 < float(img.mean()) < 0.7


def test_load_meter_reports_other_processes_cores():
    with bench.LoadMeter() as load:
        sum(i * i for i in range(200_000))  # our own work is not the others' load
    if bench.machine_cpu_s() is None:
        assert load.cores is None
    else:
        assert 0.0 <= load.cores <= (os.cpu_count() or 1) + 0.5


def test_machine_names_the_cpus_int8_instructions():
    """Two CPUs with one model name can differ threefold in int8 speed: the page says which."""
    info = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n"
    assert bench.cpu_description(info) == "AMD EPYC (AVX2, no VNNI)"
    vnni = info.replace("fma", "fma avx512f avx512_vnni")
    assert bench.cpu_description(vnni) == "AMD EPYC (AVX-512 VNNI)"
    assert bench.cpu_description(vnni.replace("fma", "fma amx_int8")) == "AMD EPYC (AMX)"
    assert bench.int8_instructions({"avx2", "avx_vnni"}) == "AVX-VNNI"
    assert bench.int8_instructions({"sse4_2"}) == "no AVX2"
    assert bench.cpu_description("model name\t: Some CPU\n") == "Some CPU"  # no flags line
    assert bench.cpu_description("Hardware\t: arm\n") == ""
