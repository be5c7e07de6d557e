"""benchmarks/run_all.py --quick on fixture models and a tiny data root: every step runs and
the page is rebuilt from what they wrote. Speed is never asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchhelpers import load_script
from PIL import Image

pytest.importorskip("onnxruntime.quantization")
pytest.importorskip("torch")
pytest.importorskip("cv2")
pytest.importorskip("bm3d")


@pytest.fixture
def data_root(tmp_path):
    """datasets/{train/CBSD432,test/CBSD68} with two small synthetic pictures each."""
    root = tmp_path / "datasets"
    y, x = np.mgrid[0:40, 0:56] / 56.0
    for sub in ("train/CBSD432", "test/CBSD68"):
        folder = root / sub
        folder.mkdir(parents=True)
        for i in range(2):
            img = np.stack([0.3 + 0.4 * x, 0.2 + 0.5 * y, 0.5 + 0.2 * np.sin(6 * x + i)], -1)
            Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def test_quick_run_writes_every_json_and_the_page(tmp_path, data_root, color_model,
                                                   capsys):
    run_all = load_script("run_all")
    scratch, page = tmp_path / "scratch", tmp_path / "benchmarks.md"
    code = run_all.main(["--data", str(data_root), "--scratch", str(scratch), "--models-dir",
                         str(color_model.parent), "--quick", "--ship", "--out", str(page)])
    assert code == 0
    for name in ("quantize", "quality-fp32", "quality-int8", "bench", "peers", "cli",
                 "tile-64", "tile-128"):
        assert (scratch / f"{name}.json").exists(), name
    shipped = color_model.parent / "ae-color-int8.onnx"
    assert shipped.exists()  # the mean filter loses nothing, so it qualifies
    # 7-bit weights: CPUs without VNNI multiply them without saturating
    assert json.loads((scratch / "quantize.json").read_text())["settings"]["reduce_range"]
    bench = json.loads((scratch / "bench.json").read_text())
    assert {r["model"] for r in bench["rows"]} == {"ae-color", "ae-color-int8"}
    text = page.read_text()
    assert "Tiny test case" in text
    for section in ("## Targets", "## Reduced precision", "## Tile size", "## Beside the peers",
                    "## The command line end to end"):
        assert section in text
    assert "python -m training.quantize --model" in text and "**qualifies**" in text
    assert "Not measured yet" not in text


def test_docs_step_alone_keeps_missing_sections_honest(tmp_path, data_root, color_model):
    run_all = load_script("run_all")
    page = tmp_path / "benchmarks.md"
    code = run_all.main(["--data", str(data_root), "--scratch", str(tmp_path / "empty"),
                         "--models-dir", str(color_model.parent), "--steps", "docs",
                         "--out", str(page)])
    assert code == 0
    assert page.read_text().count("Not measured yet") == 5


def test_a_reference_trained_for_int8_is_benched_not_quantised_again(tmp_path, data_root,
                                                                     color_model):
    """``ae-color`` may ship as the int8 graph it was trained for (``quantize --name``): it
    counts as a model of its own, and there is no variant of it to make."""
    from training.quantize import Calibration, quantize

    run_all = load_script("run_all")
    int8 = tmp_path / "models" / "ae-color.onnx"
    int8.parent.mkdir()
    quantize(color_model, int8, "static", data_root / "train" / "CBSD432",
             Calibration(images=2, crop=32), reduce_range=True, name="ae-color")
    assert run_all.float_models(int8.parent) == [int8]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "ae-color-int8.onnx").write_bytes(color_model.read_bytes())  # an older run's
    page = tmp_path / "benchmarks.md"
    code = run_all.main(["--data", str(data_root), "--scratch", str(scratch), "--models-dir",
                         str(int8.parent), "--quick", "--steps", "quantize", "quality", "bench",
                         "docs", "--out", str(page)])
    assert code == 0
    assert "`ae-color` is itself the int8 graph" in page.read_text()
    assert not (scratch / "quantize.json").exists()
    bench = json.loads((scratch / "bench.json").read_text())
    assert [r["path"] for r in bench["rows"]] == [str(int8.resolve())]  # not the stale one


def test_the_reference_is_ae_color_as_the_app_runs_it_here(tmp_path, build, monkeypatch):
    run_all = load_script("run_all")
    folder = tmp_path / "models"
    folder.mkdir()
    build.mean(folder / "ae-color.onnx", channels=3,
               meta={**build.color_meta, "precision": "int8"})
    build.mean(folder / "ae-color-avx2.onnx", channels=3,
               meta={**build.color_meta, "name": "ae-color-avx2", "stand_in_for": "ae-color"})
    monkeypatch.setenv("DENOISER_INT8", "slow")
    assert run_all.reference_model(folder).name == "ae-color-avx2.onnx"
    monkeypatch.setenv("DENOISER_INT8", "fast")
    assert run_all.reference_model(folder).name == "ae-color.onnx"
