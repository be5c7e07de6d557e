"""The training loop learns, checkpoints, and resumes where it stopped."""

from __future__ import annotations

import csv

import pytest
import torch
import yaml
from PIL import Image

from training import checkpoint
from training import train as train_module
from training.train import learning_rate, make_data, param_groups, train, uses_bf16


def read_log(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_tiny_run_lowers_loss_and_raises_psnr(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "run"
    tiny_recipe["train"]["steps"] = 100
    result = train(tiny_recipe, out, image_root, max_minutes=None, threads=2)
    rows = read_log(out / "log.csv")
    assert result["step"] == 100
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    psnrs = [float(r["val_psnr"]) for r in rows if r["val_psnr"]]
    assert psnrs[-1] > psnrs[0] + 1.0
    with Image.open(out / "samples.png") as sheet:  # noisy / denoised / clean rows
        assert sheet.height > 3 * 32


def test_bf16_autocast_recipe_trains(tmp_path, image_root, tiny_recipe):
    tiny_recipe["train"].update(steps=3, autocast="bf16")
    result = train(tiny_recipe, tmp_path / "run", image_root, max_minutes=None, threads=1)
    assert result["step"] == 3 and result["loss"] == result["loss"]  # finite, not NaN


def test_auto_autocast_follows_the_cpu(monkeypatch, tiny_recipe):
    cfg = tiny_recipe["train"]
    for fast in (True, False):
        monkeypatch.setattr(train_module, "bf16_is_fast", lambda fast=fast: fast)
        cfg["autocast"] = "auto"
        assert uses_bf16(tiny_recipe) is fast
        cfg["autocast"] = "bf16"
        assert uses_bf16(tiny_recipe)
        cfg.pop("autocast")
        assert not uses_bf16(tiny_recipe)
    monkeypatch.setattr(train_module, "bf16_is_fast", lambda: True)
    cfg.update(autocast="auto", qat={"learn_ranges": True})  # int8 rounding wants float32
    assert not uses_bf16(tiny_recipe)


@pytest.mark.parametrize("amx, avx512_bf16, fast", [
    (True, False, True), (False, True, True), (False, False, False)])
def test_bf16_counts_as_fast_where_the_cpu_computes_it(monkeypatch, amx, avx512_bf16, fast):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16,
                        raising=False)
    train_module.bf16_is_fast.cache_clear()
    try:
        assert train_module.bf16_is_fast() is fast
    finally:
        train_module.bf16_is_fast.cache_clear()


def test_resume_continues_from_checkpoint(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "run"
    tiny_recipe["train"]["steps"] = 20
    train(tiny_recipe, out, image_root, max_minutes=None, threads=2)
    tiny_recipe["train"]["steps"] = 30
    result = train(tiny_recipe, out, image_root, max_minutes=None, threads=2)
    assert result["step"] == 30
    state = checkpoint.load(out / "last.pt")
    assert state["step"] == 30 and state["arch"]["name"] == "unet_ae"
    net = checkpoint.model_from(state)
    assert net(torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)).shape == (1, 3, 32, 32)


def test_resume_drops_log_rows_past_the_checkpoint(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "run"
    tiny_recipe["train"]["steps"] = 20
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    with open(out / "log.csv", "a", newline="") as f:  # logged, then stopped before a checkpoint
        csv.writer(f).writerow([30, 1.0, "1e-4", 99.0, 99.0, 0, ""])
    tiny_recipe["train"]["steps"] = 30
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    rows = read_log(out / "log.csv")
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 30
    assert all(float(r["loss"]) != 99.0 for r in rows)


def test_resumed_log_times_the_whole_run(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "run"
    tiny_recipe["train"]["steps"] = 20
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    with open(out / "log.csv", newline="") as f:
        rows = list(csv.reader(f))
    rows[-1][1] = "1000.0"  # the first sitting took 1000 s to step 20
    with open(out / "log.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    tiny_recipe["train"]["steps"] = 30
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    seconds = [float(r["seconds"]) for r in read_log(out / "log.csv")]
    assert seconds == sorted(seconds) and 1000.0 < seconds[-1] < 1000.0 + 600


def test_time_budget_stops_and_checkpoints(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "run"
    result = train(tiny_recipe, out, image_root, max_minutes=1e-9, threads=1)
    assert result["step"] == 0
    assert (out / "last.pt").exists()


def test_learning_rate_schedule_warms_up_then_decays(tiny_recipe):
    cfg = tiny_recipe["train"]
    lrs = [learning_rate(s, cfg) for s in range(cfg["steps"] + 1)]
    assert lrs[0] < lrs[cfg["warmup"] - 1] == cfg["lr"]
    assert abs(lrs[-1] - cfg["lr_min"]) < 1e-9
    assert all(a >= b for a, b in zip(lrs[cfg["warmup"]:], lrs[cfg["warmup"] + 1:]))


def test_resume_from_a_compact_checkpoint(tmp_path, image_root, tiny_recipe):
    out = tmp_path / "run"
    tiny_recipe["train"]["steps"] = 20
    train(tiny_recipe, out, image_root, max_minutes=None, threads=2)
    full = checkpoint.load(out / "last.pt")
    checkpoint.save(out / "last.pt", checkpoint.compact(full))
    small = checkpoint.load(out / "last.pt")
    assert "optimizer" not in small and small["model"] is small["ema"]
    tiny_recipe["train"]["steps"] = 30
    assert train(tiny_recipe, out, image_root, max_minutes=None, threads=2)["step"] == 30
    cfg = {**tiny_recipe["train"], "rewarm_from": 20}
    assert learning_rate(20, cfg) < learning_rate(20 + cfg["warmup"], cfg)


def test_camera_noise_recipe_gives_per_pixel_noise_maps(tmp_path, image_root, tiny_recipe):
    tiny_recipe["data"]["camera_noise"] = {"gaussian_fraction": 0.0, "jpeg_prob": 0.0,
                                           "a_range": [1e-3, 1e-2]}
    sampler, _ = make_data(tiny_recipe, image_root)
    clean, noisy, sigma = sampler.batch(4, torch.Generator().manual_seed(0))
    assert clean.shape == noisy.shape and sigma.shape == (4, 1, 32, 32)
    # signal-dependent: the level varies within a patch, and it describes the noise drawn
    assert (sigma.amax(dim=(2, 3)) > 1.2 * sigma.amin(dim=(2, 3))).all()
    ratio = float((noisy - clean).std() / sigma.pow(2).mean().sqrt())
    assert 0.7 < ratio < 1.3


def test_schedule_follows_the_clock_when_the_budget_runs_out_first(tiny_recipe):
    cfg = tiny_recipe["train"]
    step = cfg["warmup"] + 1  # early in steps...
    assert learning_rate(step, cfg) > 0.9 * cfg["lr"]
    assert abs(learning_rate(step, cfg, elapsed=1.0) - cfg["lr_min"]) < 1e-9  # ...but out of time
    mid = learning_rate(step, cfg, elapsed=0.5)
    assert cfg["lr_min"] < mid < learning_rate(step, cfg)


def test_cli_overrides_steps_and_peak_learning_rate(tmp_path, image_root, tiny_recipe):
    import yaml

    from training.train import main

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(tiny_recipe))
    out = tmp_path / "run"
    assert main(["--recipe", str(recipe), "--out", str(out), "--data-root", str(image_root),
                 "--steps", "6", "--lr", "3e-4", "--threads", "1"]) == 0
    state = checkpoint.load(out / "last.pt")
    assert state["step"] == 6 and state["recipe"]["train"]["lr"] == 3e-4
    rows = read_log(out / "log.csv")
    assert max(float(r["lr"]) for r in rows) <= 3e-4


def test_lr_scale_gives_named_parameters_their_own_rate(tmp_path, image_root, tiny_recipe):
    import pytest

    from training.archs import build

    net = build(**tiny_recipe["arch"])
    groups = param_groups(net, {"body.tail.": 10})
    scaled = next(g for g in groups if g["scale"] == 10.0)
    assert {id(p) for p in scaled["params"]} == {id(p) for p in net.body.tail.parameters()}
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    with pytest.raises(ValueError, match="body.nothing"):
        param_groups(net, {"body.nothing": 2})
    tiny_recipe["train"].update(steps=4, lr_scale={"body.tail.": 10}, log_every=1)
    out = tmp_path / "run"
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    rates = sorted(g["lr"] for g in checkpoint.load(out / "last.pt")["optimizer"]["param_groups"])
    assert rates[-1] == 10 * rates[0] > 0


def test_cli_autocast_overrides_the_recipe(tmp_path, image_root, tiny_recipe, capsys):
    tiny_recipe["train"]["autocast"] = "bf16"
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_recipe))
    out = tmp_path / "run"
    assert train_module.main(["--recipe", str(path), "--data-root", str(image_root), "--out",
                              str(out), "--steps", "2", "--threads", "1",
                              "--autocast", "off"]) == 0
    assert "bf16 autocast: off" in capsys.readouterr().err
    assert checkpoint.load(out / "last.pt")["recipe"]["train"]["autocast"] is None
