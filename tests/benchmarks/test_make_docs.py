"""benchmarks/make_docs.py renders docs/benchmarks.md from sample JSONs, figures untouched."""

from __future__ import annotations

import json

from benchhelpers import load_script

MACHINE = {"cpu": "Test CPU", "cores": 2, "threads": 2, "onnxruntime": "1.0",
           "platform": "Linux"}
BENCH = {"command": "denoiser bench --sizes 1 12 24 --repeat 3 --json bench.json",
         "machine": MACHINE, "sigma": 25.0, "rows": [
             {"model": "ae-color", "device": "cpu", "megapixels": 1.0, "mp_per_s": 1.234,
              "median_s": 0.81, "peak_rss_mb": 300.0, "base_rss_mb": 200.0},
             {"model": "ae-color", "device": "cpu", "megapixels": 24.0, "mp_per_s": 0.987,
              "median_s": 24.3, "peak_rss_mb": 900.0, "base_rss_mb": 200.0},
             {"model": "vae-color", "device": "cpu", "megapixels": 1.0, "error": "boom"}]}
PEERS = {"command": "python benchmarks/peers.py --data CBSD68 --crop 256 --threads 2",
         "machine": MACHINE, "data": "CBSD68", "sigma": 25.0, "reference": "ae-color",
         "skipped": [], "rows": [
             {"method": "ae-color", "kind": "ours", "sec_per_mp": 0.5, "ratio_to_ours": 1.0,
              "psnr": 31.11, "region": "full images (68)"},
             {"method": "cbm3d", "kind": "peer", "sec_per_mp": 80.0, "ratio_to_ours": 160.0,
              "psnr": 30.71, "region": "centre 256x256 crops (68)"},
             {"method": "dncnn-size (17x64, torch)", "kind": "timing-only", "sec_per_mp": 3.0,
              "ratio_to_ours": 6.0, "psnr": None, "region": "full images (68)"}]}
CLI = {"command": "python benchmarks/cli_e2e.py --mp 6 24 96 --json cli.json",
       "machine": MACHINE, "model": "ae-color", "tile": 512, "sigma": "auto", "rows": [
           {"mp": 24.0, "width": 6000, "height": 4000, "decode_s": 0.5, "estimate_s": 0.3,
            "session_s": 0.2, "denoise_s": 20.0, "encode_s": 1.0, "other_s": 0.4,
            "wall_s": 22.4, "peak_mb": 1200.0, "rc": 0}]}


def test_renders_tables_commands_and_targets(tmp_path):
    make_docs = load_script("make_docs")
    paths = {}
    for name, data in (("bench", BENCH), ("peers", PEERS), ("cli", CLI)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    out = tmp_path / "benchmarks.md"
    assert make_docs.main(["--bench", str(paths["bench"]), "--peers", str(paths["peers"]),
                           "--cli", str(paths["cli"]), "--out", str(out)]) == 0
    page = out.read_text()
    for data in (BENCH, PEERS, CLI):
        assert data["command"] in page
    assert "| ae-color | cpu | 24.00 | 0.99 | 24.30 | 900 | 700 |" in page
    assert "failed: boom" in page
    assert "| cbm3d | 80.000 | 160.00 | 30.71 | centre 256x256 crops (68) |" in page
    assert "| dncnn-size (17x64, torch) | 3.000 | 6.00 | n/a |" in page
    assert "0.99 MP/s (slowest size, 24 MP) | **not met**" in page
    assert "22.4 s, 1200 MB (ae-color) | met" in page
    assert "measure_first_result.py" in page and "to be filled in" in page
    assert "Tiny test case" not in page


def test_missing_inputs_and_gui_log(tmp_path):
    make_docs = load_script("make_docs")
    gui = make_docs.parse_gui_log(
        "image 6000x4000 (24.0 MP), model ae-color, window 1280x800, 2 CPU threads\n"
        "first denoised view painted: median 0.84 s, best 0.80 s, worst 0.90 s over 3 drops\n")
    assert gui == {"median_s": 0.84, "megapixels": 24.0, "model": "ae-color"}
    assert make_docs.parse_gui_log("no preview: timed out") is None
    page = make_docs.render(None, None, None, gui)
    assert page.count("Not measured yet") == 5  # bench, quant, tiles, peers, cli
    assert "0.84 s (median, 24 MP, ae-color) | met" in page


def test_tiny_inputs_are_labelled(tmp_path):
    make_docs = load_script("make_docs")
    tiny = {**BENCH, "rows": [{**BENCH["rows"][0], "megapixels": 0.05}]}
    assert "Tiny test case" in make_docs.render(tiny, None, None)


def _evaluation(name: str, psnrs: dict[str, float]) -> dict:
    return {"data": "CBSD68", "command": f"python -m training.evaluate --model {name}.onnx",
            "methods": {name: {s: {"psnr": v, "ssim": 0.9} for s, v in psnrs.items()}}}


QUANTIZE = {"command": "python -m training.quantize --model ae-color.onnx --out x.onnx",
            "name": "ae-color-int8", "base_model": "ae-color", "precision": "int8",
            "settings": {"format": "QDQ", "calibration": "minmax", "float_nodes": 30,
                         "float_scale": 0.25}}


def test_quant_section_compares_quality_and_speed():
    make_docs = load_script("make_docs")
    ref = _evaluation("ae-color", {"15": 33.06, "25": 30.50})
    var = _evaluation("ae-color-int8", {"15": 33.00, "25": 30.49})
    bench = {**BENCH, "rows": BENCH["rows"][:2] + [
        {"model": "ae-color-int8", "device": "cpu", "megapixels": 24.0, "mp_per_s": 1.5,
         "median_s": 16.0, "peak_rss_mb": 800.0, "base_rss_mb": 150.0}]}
    page = make_docs.render(bench, None, None, quant=[ref, var, QUANTIZE])
    assert "| 15 | 33.06 | 33.00 | -0.060 |" in page
    assert "Largest loss 0.060 dB at sigma 15: **qualifies**" in page
    assert "24 MP 0.99 vs 1.50 MP/s (x1.52)" in page
    assert QUANTIZE["command"] in page and ref["command"] in page
    worse = _evaluation("ae-color-int8", {"15": 32.90, "25": 30.49})
    assert "**does not qualify**" in make_docs.render(None, None, None, quant=[ref, worse])


def test_tile_sweep_and_busy_machine_warning():
    make_docs = load_script("make_docs")
    tiles = [{**BENCH, "command": f"denoiser bench --tile {t}", "rows": [
        {**BENCH["rows"][1], "tile": t, "others_cores": busy}]}
        for t, busy in ((512, 0.0), (1024, 0.9))]
    page = make_docs.render(None, None, None, tiles=tiles)
    assert "| 1024 | ae-color | 24.00 | 0.99 |" in page
    assert "denoiser bench --tile 512" in page and "denoiser bench --tile 1024" in page
    assert "Shared machine" not in page  # only the main tables' load is summarised
    busy = {**BENCH, "rows": [{**BENCH["rows"][0], "others_cores": 0.9}]}
    assert "**Shared machine:** other processes kept up to 0.9 cores" in make_docs.render(
        busy, None, None)


def test_the_speed_target_counts_ae_colors_stand_in():
    """Where int8 is slow the app runs ae-color's float32 stand-in: that is what it measures."""
    make_docs = load_script("make_docs")
    rows = [{**r, "model": "ae-color-avx2", "stands_in_for": "ae-color", "mp_per_s": 1.05}
            for r in BENCH["rows"][:2]]
    page = make_docs.render({**BENCH, "rows": rows}, None, None)
    assert "1.05 MP/s (slowest size, 1 MP) | met" in page
