"""The command line end to end on tiny fixture models: outputs, safety, errors, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from denoiser import cli


def save_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(path)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def photo(tmp_path, noisy_rgb, installed_models) -> Path:
    return save_png(tmp_path / "in" / "photo.png", noisy_rgb)


def test_single_file_beside_input(capsys, photo):
    code, out, _ = run(capsys, "denoise", photo, "--sigma", "20")
    dst = photo.with_name("photo_denoised.png")
    assert code == 0 and dst.exists()
    assert "1 of 1 images denoised" in out and "ae-color" in out
    assert np.asarray(Image.open(dst)).shape == (70, 90, 3)


def test_bare_input_means_denoise_and_grey_uses_grey_model(capsys, tmp_path, noisy_rgb,
                                                           installed_models):
    grey = tmp_path / "scan.png"
    Image.fromarray((noisy_rgb[..., 0] * 255).astype(np.uint8), "L").save(grey)
    code, out, _ = run(capsys, grey, "--suffix", "_clean")
    assert code == 0 and (tmp_path / "scan_clean.png").exists() and "ae-gray" in out


def test_output_option_and_format(capsys, photo, tmp_path):
    code, _, _ = run(capsys, photo, "-o", tmp_path / "new" / "result.png")
    assert code == 0 and (tmp_path / "new" / "result.png").exists()
    code, _, _ = run(capsys, photo, "--format", "tif", "--quiet")
    assert code == 0 and photo.with_name("photo_denoised.tif").exists()


def test_folder_with_subfolders_into_out_dir(capsys, tmp_path, noisy_rgb, installed_models):
    src = tmp_path / "trip"
    for rel in ("a.png", "day1/b.png", "day1/deep/c.png"):
        save_png(src / rel, noisy_rgb)
    (src / "notes.txt").write_text("not an image")
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, src, "--out-dir", out_dir)
    assert code == 0 and "3 of 3 images denoised" in out
    for rel in ("a_denoised.png", "day1/b_denoised.png", "day1/deep/c_denoised.png"):
        assert (out_dir / rel).exists(), rel
    # beside the inputs, then again: earlier outputs are not taken as new inputs
    assert run(capsys, src)[0] == 0
    code, out, _ = run(capsys, src, "--overwrite")
    assert code == 0 and "3 of 3" in out
    assert not list(src.rglob("*_denoised_denoised*"))


def test_never_overwrites_without_flag(capsys, photo):
    assert run(capsys, photo)[0] == 0
    dst = photo.with_name("photo_denoised.png")
    dst.write_bytes(b"precious")
    code, out, err = run(capsys, photo)
    assert code == 1 and dst.read_bytes() == b"precious"
    assert f"skipped {photo}" in err and "--overwrite" in err
    assert "0 of 1 images denoised (1 skipped)" in out
    code, _, _ = run(capsys, photo, "--overwrite")
    assert code == 0 and dst.read_bytes() != b"precious"


def test_input_itself_is_never_replaced_without_flag(capsys, photo):
    before = photo.read_bytes()
    code, _, err = run(capsys, photo, "-o", photo)
    assert code == 1 and photo.read_bytes() == before and "skipped" in err


def test_bad_files_in_batch_are_reported_and_the_rest_done(capsys, tmp_path, noisy_rgb,
                                                          installed_models):
    good1 = save_png(tmp_path / "a.png", noisy_rgb)
    good2 = save_png(tmp_path / "z.png", noisy_rgb)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good1.read_bytes()[:200])
    empty = tmp_path / "empty.jpg"
    empty.touch()
    text = tmp_path / "letter.png"
    text.write_text("Dear reader")
    missing = tmp_path / "missing.png"
    code, out, err = run(capsys, good1, corrupt, empty, text, missing, good2)
    assert code == 1
    assert good1.with_name("a_denoised.png").exists() and good2.with_name("z_denoised.png").exists()
    assert "2 of 6 images denoised (4 failed)" in out
    bad_lines = [line for line in err.splitlines() if line.strip()]
    for bad in (corrupt, empty, text, missing):
        assert sum(line.startswith(f"{bad}: ") for line in bad_lines) == 1
    assert not list(tmp_path.glob("*denoised*.jpg"))


def test_unwritable_output_folder(capsys, photo, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, photo, "--out-dir", blocker / "sub")
    assert code == 1 and "photo.png: " in err and len(err.strip().splitlines()) == 1


def test_malformed_model_exit_3(capsys, photo, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01garbage")
    code, _, err = run(capsys, photo, "--model", junk)
    assert code == 3 and "not a valid ONNX model" in err and len(err.strip().splitlines()) == 1
    assert not photo.with_name("photo_denoised.png").exists()


def test_wrong_shape_model_exit_3(capsys, photo, tmp_path, build):
    code, _, err = run(capsys, photo, "--model", build.wrong_rank(tmp_path / "w.onnx"))
    assert code == 3 and "N x C x H x W" in err


def test_model_failing_at_run_time_exit_3(capsys, photo, tmp_path, build):
    code, _, err = run(capsys, photo, "--model", build.shrinking(tmp_path / "s.onnx"))
    assert code == 3 and "returned shape" in err and "0 of 1" in err


def test_unknown_model_exit_2(capsys, photo):
    code, _, err = run(capsys, photo, "--model", "ae-enormous")
    assert code == 2 and "no model named 'ae-enormous'" in err
    code, _, err = run(capsys, photo, "--model", "/nowhere/m.onnx")
    assert code == 2


def test_no_model_installed_exit_3(capsys, tmp_path, noisy_rgb, models_dir):
    code, _, err = run(capsys, save_png(tmp_path / "p.png", noisy_rgb))
    assert code == 3 and "No denoising model is installed" in err


@pytest.mark.parametrize("args", [
    ["--sigma", "loud"], ["--tile", "0"], ["--device", "tpu"], ["--uncertainty", "--samples", "1"],
])
def test_usage_errors_exit_2(capsys, photo, args):
    assert run(capsys, photo, *args)[0] == 2


def test_output_option_needs_one_file(capsys, photo, tmp_path):
    code, _, err = run(capsys, photo, photo, "-o", tmp_path / "x.png")
    assert code == 2 and "exactly one input" in err


def test_samples_need_a_vae(capsys, photo, color_model):
    code, _, err = run(capsys, photo, "--model", color_model, "--samples", "4")
    assert code == 2 and "not stochastic" in err


def test_vae_samples_and_uncertainty(capsys, photo, vae_path):
    code, out, _ = run(capsys, photo, "--model", vae_path, "--samples", "4", "--uncertainty",
                       "--seed", "1")
    assert code == 0, out
    unc = photo.with_name("photo_uncertainty.png")
    assert photo.with_name("photo_denoised.png").exists() and unc.exists()
    view = np.asarray(Image.open(unc))
    assert view.shape == (70, 90) and view.max() > 200


def test_models_listing(capsys, installed_models, vae_path, tmp_path):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "ae-color" in out and "ae-gray" in out and "your models" in out
    code, out, _ = run(capsys, "models", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["ae-color"]["channels"] == 3 and listed["ae-color"]["sigma_range"] == [0, 75]


def test_models_listing_skips_broken_file(capsys, installed_models, models_dir):
    (models_dir / "broken.onnx").write_bytes(b"nope")
    code, out, err = run(capsys, "models")
    assert code == 0 and "ae-color" in out and "broken.onnx" in err


def test_interrupt_exit_130(capsys, photo, monkeypatch):
    from denoiser import batch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "denoise_file", interrupted)
    code, _, err = run(capsys, photo)
    assert code == 130 and "interrupted" in err


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = cli.ProgressBar(stream, enabled=True)
        bar.start("photo.jpg")
        bar(3, 4)
        bar(4, 4)
        bar.clear()
    assert "100%" in tty.getvalue() and pipe.getvalue() == ""


def test_python_m_denoiser_help():
    out = subprocess.run([sys.executable, "-m", "denoiser", "denoise", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "exit status" in out.stdout and "130" in out.stdout


def test_tiny_image_needs_a_given_noise_level(capsys, tmp_path, noisy_rgb, installed_models):
    tiny = save_png(tmp_path / "tiny.png", noisy_rgb[:8, :8])
    code, _, err = run(capsys, tiny)
    assert code == 1 and "--sigma" in err
    assert run(capsys, tiny, "--sigma", "10")[0] == 0
