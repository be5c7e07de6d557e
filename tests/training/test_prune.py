"""Pruning: a shallower network keeps the blocks that matter and computes what the deep one
computes with the others bypassed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from training import checkpoint
from training.archs import build
from training.prune import (
    block_losses,
    channel_importance,
    kept_blocks,
    narrow,
    narrowed_state,
    prune,
    pruned_state,
)

ARCH = {"name": "unet_ae", "channels": 3, "widths": [8, 16, 32], "blocks": [3, 2, 1],
        "unshuffle": 2}
IDLE = ("enc.0.1", "dec.0.2", "enc.1.0", "dec.1.1")  # blocks made the identity


def deep_state() -> dict:
    """A checkpoint of a random network (tail included) whose IDLE blocks do nothing."""
    torch.manual_seed(0)
    arch = dict(ARCH)
    net = build(arch.pop("name"), **arch)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.05)
        for key in IDLE:
            stage, level, i = key.split(".")
            last = getattr(net.body, stage)[int(level)][int(i)].body[-1]
            last.weight.zero_()
            last.bias.zero_()
    weights = net.state_dict()
    return {"arch": dict(ARCH), "model": weights, "ema": weights, "step": 7,
            "recipe": {"data": {"train": ["x"]}}, "qat_ranges": [1.0], "best_psnr": 30.0}


def holdout(tmp_path) -> list:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def test_idle_blocks_cost_nothing_and_are_dropped(tmp_path):
    small, losses = prune(deep_state(), [2, 1, 1], holdout(tmp_path))
    for key in IDLE:
        assert losses[key] == pytest.approx(0.0, abs=1e-4)
    assert small["arch"]["blocks"] == [2, 1, 1]
    assert "qat_ranges" not in small and "best_psnr" not in small and small["step"] == 7
    for stage, kept in small["pruned_from"].items():  # each stage keeps its costliest blocks
        level = int(stage.split(".")[1])
        lost = {i: losses[f"{stage}.{i}"] for i in range(ARCH["blocks"][level])}
        dropped = [v for i, v in lost.items() if i not in kept]
        assert min(lost[i] for i in kept) >= max(dropped)


def test_pruned_network_is_the_deep_one_with_blocks_bypassed():
    state = deep_state()
    kept = {"enc.0": [0, 2], "dec.0": [0, 1], "enc.1": [1], "dec.1": [0]}
    small = pruned_state(state, kept, [2, 1, 1])
    shallow = checkpoint.model_from(small)
    deep = checkpoint.model_from(state)
    with torch.no_grad():
        for key in IDLE:  # exactly the blocks not kept
            stage, level, i = key.split(".")
            getattr(deep.body, stage)[int(level)][int(i)] = torch.nn.Identity()
        x, s = torch.rand(1, 3, 32, 32), torch.full((1, 1, 32, 32), 0.1)
        assert torch.allclose(shallow(x, s), deep(x, s), atol=1e-6)


def test_kept_blocks_rank_by_loss_and_keep_order():
    losses = {"enc.0.0": 0.5, "enc.0.1": 0.01, "enc.0.2": 0.2, "dec.0.0": 0.0, "dec.0.1": 0.3,
              "dec.0.2": 0.1}
    assert kept_blocks(losses, [2]) == {"enc.0": [0, 2], "dec.0": [1, 2]}


def test_block_losses_cover_every_encoder_and_decoder_block(tmp_path):
    from training.data import validation_set

    state = deep_state()
    net = checkpoint.model_from(state)
    vals = [validation_set(holdout(tmp_path), 3, sigma=25)]
    losses = block_losses(net, vals)
    assert set(losses) == {f"{s}.{lv}.{i}" for lv, n in enumerate([3, 2]) for s in ("enc", "dec")
                           for i in range(n)}
    assert all(np.isfinite(v) for v in losses.values())


def test_prune_refuses_more_blocks_or_another_bottleneck(tmp_path):
    with pytest.raises(ValueError):
        prune(deep_state(), [4, 1, 1], holdout(tmp_path))
    with pytest.raises(ValueError):
        prune(deep_state(), [2, 1, 2], holdout(tmp_path))


HIDDEN = [4, 8, 16]  # half of ARCH's widths


def dead_half_state() -> dict:
    """deep_state, with the odd middle channels of every residual block read by nothing and
    the even ones switched on (a positive bias before the ReLU)."""
    state = deep_state()
    weights = dict(state["model"])
    for key in [k for k in weights if k.endswith("body.2.weight")]:
        w = weights[key].clone()
        w[:, 1::2] = 0.0
        weights[key] = w
    for key in [k for k in weights if k.endswith("body.0.bias")]:
        b = weights[key].clone()
        b[0::2] = 0.5
        weights[key] = b
    return {**state, "model": weights, "ema": weights}


def test_narrowing_drops_the_channels_nothing_reads(tmp_path):
    from training.data import validation_set

    state = dead_half_state()
    wide = checkpoint.model_from(state)
    importance = channel_importance(wide, [validation_set(holdout(tmp_path), 3, sigma=25)])
    assert len(importance) == 3 + 2 + 3 + 2 + 1  # every encoder, decoder and bottleneck block
    for name, score in importance.items():
        assert torch.all(score[1::2] == 0)
        if name.removeprefix("body.") not in IDLE:  # an idle block's channels all read as 0
            assert torch.all(score[0::2] > 0)
    small = narrowed_state(state, HIDDEN, importance)
    assert small["arch"]["hidden"] == HIDDEN and "qat_ranges" not in small
    thin = checkpoint.model_from(small)
    assert thin.body.enc[0][0].body[0].out_channels == 4
    assert thin.body.mid[0].body[2].in_channels == 16
    with torch.no_grad():
        x, s = torch.rand(1, 3, 32, 32), torch.full((1, 1, 32, 32), 0.1)
        assert torch.allclose(thin(x, s), wide(x, s), atol=1e-6)


def test_narrow_refuses_a_wider_or_misshapen_middle(tmp_path):
    with pytest.raises(ValueError, match="widen"):
        narrow(deep_state(), [4, 8, 64], holdout(tmp_path))
    with pytest.raises(ValueError, match="one width per level"):
        narrow(deep_state(), [4, 8], holdout(tmp_path))


def test_the_command_line_prunes_and_narrows_in_one_go(tmp_path):
    from training.prune import main

    data = tmp_path / "data" / "x"
    data.mkdir(parents=True)
    for p in holdout(tmp_path):
        p.rename(data / p.name)
    source, out = tmp_path / "deep.pt", tmp_path / "thin.pt"
    checkpoint.save(source, dead_half_state())
    assert main(["--checkpoint", str(source), "--blocks", "2-1-1", "--hidden", "4-8-16",
                 "--out", str(out), "--data-root", str(tmp_path / "data"), "--threads", "1"]) == 0
    small = checkpoint.load(out)
    assert small["arch"]["blocks"] == [2, 1, 1] and small["arch"]["hidden"] == HIDDEN
    checkpoint.model_from(small)  # the weights fit the architecture they name
