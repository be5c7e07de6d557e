"""Window attention: it mixes positions within a window only, and a network grown by it starts
as the network it grew from."""

from __future__ import annotations

import torch

from training.archs import build
from training.archs.attention import WindowAttention
from training.warm_start import adapt


def live_block(ch: int = 8, window: int = 4, heads: int = 2) -> WindowAttention:
    torch.manual_seed(0)
    block = WindowAttention(ch, window, heads)
    torch.nn.init.normal_(block.proj.weight, std=0.3)  # the output starts at zero otherwise
    return block.eval()


def test_windows_split_and_merge_back_to_the_same_map():
    block = live_block()
    x = torch.rand(2, 8, 8, 12)
    assert torch.equal(block._merge(block._split(x), x.shape), x)


def test_a_position_sees_its_own_window_and_no_other():
    block = live_block()
    x = torch.rand(1, 8, 8, 8)
    y = x.clone()
    y[:, :, 1, 2] += 1.0  # inside the top-left 4 x 4 window
    with torch.no_grad():
        change = (block(y) - block(x)).abs().sum(dim=1)[0]
    assert change[:4, :4].gt(1e-4).sum() > 1  # the whole window moves, not only that pixel
    change[:4, :4] = 0
    assert change.max() < 1e-6


def test_a_network_grown_by_attention_starts_as_its_source():
    torch.manual_seed(0)
    arch = {"widths": [8, 16, 32], "blocks": [1, 1, 1], "unshuffle": 2}
    source = build("unet_ae", channels=3, **arch)
    with torch.no_grad():
        for p in source.parameters():
            p.normal_(0, 0.1)
    grown = build("unet_ae", channels=3, attention=[1, 1], window=4, heads=2, **arch)
    fresh = adapt(grown, source.state_dict())
    assert fresh and all("_attn." in n for n in fresh)
    assert grown.multiple == 16  # level 1's windows are 4 positions of 4 pixels
    x, s = torch.rand(1, 3, 32, 48), torch.full((1, 1, 32, 48), 0.1)
    with torch.no_grad():
        assert torch.allclose(grown.eval()(x, s), source.eval()(x, s), atol=1e-6)
