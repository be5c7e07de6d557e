"""Self-supervised fine-tuning: the sub-sampler's picks, a denoiser (AE or VAE) learnt from
noisy images alone, and an export that the app finds in the user's models folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from denoiser.metrics import psnr
from denoiser.models import discover_models, load_model_info
from denoiser.noise import add_gaussian_noise, estimate_sigma
from denoiser.strength import auto_sigma
from training import checkpoint
from training.archs import build
from training.finetune import INT8_EXPORT, load_noisy, main, resolve_checkpoint, rounding_for
from training.selfsup import neighbour_pairs, subsample

SIGMA = 25.0


def test_subsampled_pixels_are_distinct_edge_neighbours_in_their_cell():
    """Each sub-image pixel comes from its own 2x2 cell; the two picks share an edge."""
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    coords = torch.stack([ys, xs]).expand(3, 2, 32, 32)
    first, second = neighbour_pairs(3, 32, 32, torch.Generator().manual_seed(0))
    a, b = subsample(coords, first), subsample(coords, second)
    assert a.shape == (3, 2, 16, 16)
    assert torch.equal((a - b).abs().sum(dim=1), torch.ones(3, 16, 16))
    cell = torch.stack(torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij"))
    assert torch.equal((a // 2), cell.expand_as(a)) and torch.equal((b // 2), cell.expand_as(b))


def tiny_checkpoint(path, recipe):
    """An untrained tiny AE: its zero-initialised tail makes it the identity at step 0."""
    recipe["description"] = "Tiny test denoiser."
    recipe["arch"]["widths"] = [16, 32]  # twice the training tests' widths: learns in seconds
    torch.manual_seed(0)
    net = build(**recipe["arch"])
    checkpoint.save(path, {"arch": recipe["arch"], "model": net.state_dict(), "step": 0,
                           "recipe": recipe})
    return path


def noisy_folder(folder, clean_folder):
    """Noisy 8-bit PNGs of the clean shapes (what a user has) and the clean originals, kept
    aside for scoring only."""
    folder.mkdir()
    cleans = []
    for i, path in enumerate(sorted(clean_folder.glob("*.png"))):
        clean = np.asarray(Image.open(path), np.float32) / 255.0
        noisy = add_gaussian_noise(clean, SIGMA, seed=i)
        Image.fromarray(np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(
            folder / f"{i:02d}.png")
        cleans.append(clean)
    return cleans


def run_onnx(model_path, folder, sess=None, **extra):
    """The model's outputs (H x W x C) on the folder's images at the true noise level."""
    sess = sess or ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    outs = []
    for path in sorted(folder.glob("*.png")):
        x = np.asarray(Image.open(path), np.float32).transpose(2, 0, 1)[None] / 255.0
        s = np.full((1, 1, *x.shape[2:]), SIGMA / 255.0, np.float32)
        feed = {"noisy": x, "sigma": s, **extra}
        outs.append(sess.run(["denoised"], feed)[0][0].transpose(1, 2, 0))
    return outs


def mean_psnr(model_path, folder, cleans):
    return float(np.mean([psnr(c, o) for c, o in zip(cleans, run_onnx(model_path, folder))]))


def test_finetune_on_noisy_images_alone_denoises_and_lands_in_user_models(
        tmp_path, models_dir, image_root, tiny_recipe):
    cleans = noisy_folder(tmp_path / "noisy", image_root / "train" / "tiny")
    before = np.mean([psnr(c, np.asarray(Image.open(p), np.float32) / 255.0)
                      for p, c in zip(sorted((tmp_path / "noisy").glob("*.png")), cleans)])
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt", tiny_recipe)
    assert main(["--model", str(ckpt), "--noisy", str(tmp_path / "noisy"), "--out", "mine",
                 "--steps", "120", "--minutes", "5", "--patch", "64", "--lr", "2e-3",
                 "--run-dir", str(tmp_path / "run"), "--threads", "1"]) == 0
    found = {m.name: m for m in discover_models()}
    assert "mine" in found
    mine = found["mine"]
    assert mine.path.parent == (tmp_path / "xdg" / "denoiser" / "models").resolve()
    assert "Fine-tuned from tiny on 8 user images, self-supervised" in mine.description
    assert json.loads(mine.metadata["fine_tuning"])["steps"] == 120
    after = mean_psnr(mine.path, tmp_path / "noisy", cleans)
    assert after > before + 2.5, (before, after)


def test_finetune_of_a_vae_improves_its_deterministic_output_and_keeps_its_latent(
        tmp_path, models_dir, image_root, tiny_vae_recipe):
    """The VAE's z = 0 path denoises like the AE's, and its samples still differ: the latent,
    trained by the noise model's ELBO, has not collapsed onto the prior."""
    cleans = noisy_folder(tmp_path / "noisy", image_root / "train" / "tiny")
    before = np.mean([psnr(c, np.asarray(Image.open(p), np.float32) / 255.0)
                      for p, c in zip(sorted((tmp_path / "noisy").glob("*.png")), cleans)])
    tiny_vae_recipe["vae"]["free_bits"] = 0.25  # as the shipped VAE recipes
    ckpt = tiny_checkpoint(tmp_path / "tiny-vae.pt", tiny_vae_recipe)
    assert main(["--model", str(ckpt), "--noisy", str(tmp_path / "noisy"), "--out", "mine-vae",
                 "--steps", "120", "--minutes", "5", "--patch", "64", "--lr", "2e-3",
                 "--run-dir", str(tmp_path / "run"), "--threads", "1"]) == 0
    mine = {m.name: m for m in discover_models()}["mine-vae"]
    how = json.loads(mine.metadata["fine_tuning"])
    assert how["scheme"] == "neighbor2neighbor+noise-model-elbo" and how["steps"] == 120
    assert how["kl_per_position"] > 0.1, how
    after = mean_psnr(mine.path, tmp_path / "noisy", cleans)
    assert after > before + 2.5, (before, after)
    sess = ort.InferenceSession(str(mine.path), providers=["CPUExecutionProvider"])
    hot = [run_onnx(mine.path, tmp_path / "noisy", sess, temperature=np.ones(1, np.float32))
           for _ in range(2)]  # one session: its random stream moves on between runs
    spread = np.mean([np.abs(a - b).mean() for a, b in zip(*hot)]) * 255
    assert spread > 0.1, spread


def test_a_network_trained_for_int8_is_adapted_under_its_rounding_and_ships_as_int8(
        tmp_path, models_dir, image_root, tiny_recipe):
    """As the shipped ae-color: fine-tuned in float32 and written so, it would run about three
    times slower than the model it came from. The ranges go on learning with the weights, the
    int8 graph denoises as the rounded network did in training, and it denoises."""
    from training.train import train

    tiny_recipe["arch"]["widths"] = [16, 32]
    tiny_recipe["train"].update(steps=4, ckpt_every=4, qat={
        "learn_ranges": True, "float_adds": True, "reduce_range": True,
        "float_layers": ["enc.0.0.body.0"]})
    train(tiny_recipe, tmp_path / "int8", image_root, max_minutes=None, threads=1)
    start = checkpoint.load(tmp_path / "int8" / "last.pt")["qat_ranges"]
    cleans = noisy_folder(tmp_path / "noisy", image_root / "train" / "tiny")
    before = mean_psnr_of_inputs(tmp_path / "noisy", cleans)
    assert main(["--model", str(tmp_path / "int8" / "last.pt"), "--noisy",
                 str(tmp_path / "noisy"), "--out", "mine-int8", "--steps", "120", "--minutes",
                 "5", "--patch", "64", "--lr", "2e-3", "--run-dir", str(tmp_path / "run"),
                 "--threads", "1"]) == 0
    mine = {m.name: m for m in discover_models()}["mine-int8"]
    assert mine.metadata["precision"] == "int8"
    assert "learnt in training" in json.loads(mine.metadata["quantization"])["ranges"]
    assert "Fine-tuned from tiny" in mine.description
    state = checkpoint.load(tmp_path / "run" / "last.pt")
    assert len(state["qat_ranges"]) == len(start)
    assert not np.allclose(state["qat_ranges"], start)  # learnt on: they moved
    assert mean_psnr(mine.path, tmp_path / "noisy", cleans) > before + 2.5
    net = checkpoint.model_from(state).eval()
    rounding_for(net, state)
    x = next(iter(sorted((tmp_path / "noisy").glob("*.png"))))
    feed = np.asarray(Image.open(x), np.float32).transpose(2, 0, 1)[None] / 255.0
    sigma = np.full((1, 1, *feed.shape[2:]), SIGMA / 255.0, np.float32)
    int8 = ort.InferenceSession(str(mine.path), providers=["CPUExecutionProvider"]).run(
        None, {"noisy": feed, "sigma": sigma})[0]
    with torch.no_grad():
        rounded = net(torch.from_numpy(feed), torch.from_numpy(sigma)).numpy()
    clean = cleans[0].transpose(2, 0, 1)[None]
    # the int8 graph denoises as well as the rounded network it was adapted as
    assert psnr(clean, np.clip(int8, 0, 1)) == pytest.approx(
        psnr(clean, np.clip(rounded, 0, 1)), abs=0.2)


def test_int8_adaptations_are_quantised_as_the_shipped_colour_model_was():
    shipped = Path(__file__).resolve().parents[2] / "resources" / "models" / "ae-color.onnx"
    settings = json.loads(load_model_info(shipped).metadata["quantization"])
    assert {k: settings[k] for k in INT8_EXPORT} == INT8_EXPORT


def mean_psnr_of_inputs(folder, cleans):
    return float(np.mean([psnr(c, np.asarray(Image.open(p), np.float32) / 255.0)
                          for p, c in zip(sorted(folder.glob("*.png")), cleans)]))


def test_an_onnx_model_without_a_checkpoint_is_refused_clearly(tmp_path, color_model):
    assert load_model_info(color_model).name == "ae-color"
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    for model in ("no-such-model", "ae-color"):
        with pytest.raises(SystemExit, match="has no training checkpoint"):
            resolve_checkpoint(model, ckpts)
    (ckpts / "ae-color.pt").write_bytes(b"")
    assert resolve_checkpoint("ae-color", ckpts).name == "ae-color.pt"
    assert resolve_checkpoint(str(color_model), ckpts).name == "ae-color.pt"  # by its metadata


def test_a_staged_model_maps_to_the_run_it_was_exported_from(tmp_path, models_dir, build):
    """ae-gray ships from its latest stage's run, whose name its recipe keeps."""
    build.mean(models_dir / "ae-gray.onnx", 1,
               meta={**build.gray_meta, "recipe": "name: ae-gray-fine3\ninit: x.pt"})
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    (ckpts / "ae-gray.pt").write_bytes(b"")  # an older stage's checkpoint is not the one
    (ckpts / "ae-gray-fine3.pt").write_bytes(b"")
    assert resolve_checkpoint("ae-gray", ckpts).name == "ae-gray-fine3.pt"
    assert resolve_checkpoint(str(models_dir / "ae-gray.onnx"), ckpts).name == "ae-gray-fine3.pt"


def test_noise_levels_are_estimated_as_auto_does_for_the_models_noise_type(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 12, (96, 128, 3))
    blurred = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1)) / 2  # correlated, as demosaiced
    Image.fromarray(np.clip(128 + blurred, 0, 255).astype(np.uint8)).save(tmp_path / "a.png")
    _, (camera,) = load_noisy(tmp_path, 3, noise="camera")
    _, (white,) = load_noisy(tmp_path, 3)
    pixels = np.asarray(Image.open(tmp_path / "a.png"))
    assert camera == pytest.approx(auto_sigma(pixels, noise_type="camera"), abs=1e-6)
    assert white == pytest.approx(auto_sigma(pixels, noise_type="gaussian"), abs=1e-6)
    # a Gaussian model's level reads the correlated noise too, as the app's Auto gives it;
    # the white-noise estimate alone would train the model for far weaker noise
    assert white > estimate_sigma(pixels) + 1
