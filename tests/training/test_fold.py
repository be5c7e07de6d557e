"""The stem fold is exact: same outputs, no unshuffle left, metadata kept, safe to repeat."""

from __future__ import annotations

import onnx
import pytest
import torch
import torch.nn.functional as F

from training.archs import build
from training.export import export_graph
from training.fold import fold_stem, fold_weight, main, max_difference


@pytest.mark.parametrize("channels,r,k", [(4, 2, 3), (2, 2, 3), (3, 3, 1)])
def test_folded_kernel_equals_unshuffle_then_conv(channels, r, k):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, channels, 12 * r, 9 * r, generator=g)
    w = torch.randn(5, channels * r * r, k, k, generator=g)
    b = torch.randn(5, generator=g)
    ref = F.conv2d(F.pixel_unshuffle(x, r), w, b, padding=k // 2)
    folded = torch.from_numpy(fold_weight(w.numpy(), r))
    got = F.conv2d(x, folded, b, stride=r, padding=(k // 2) * r)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def unfolded_model(tmp_path, channels: int = 3) -> onnx.ModelProto:
    """A tiny U-Net exported the way torch writes it, unshuffle and all."""
    torch.manual_seed(0)
    net = build(name="unet_ae", channels=channels, widths=[8, 16], blocks=[1, 1]).eval()
    for p in net.parameters():  # the tail starts at zero: give it weights that show errors
        torch.nn.init.normal_(p, std=0.1)
    x, s = torch.rand(1, channels, 32, 32), torch.full((1, 1, 32, 32), 0.1)
    path = tmp_path / "raw.onnx"
    dyn = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(net, (x, s), str(path), input_names=["noisy", "sigma"],
                      output_names=["denoised"], opset_version=17, dynamo=False,
                      dynamic_axes={"noisy": dyn, "sigma": dyn, "denoised": dyn})
    model = onnx.load(str(path))
    model.metadata_props.add(key="name", value="tiny")
    return model


def ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("channels", [1, 3])
def test_fold_removes_the_unshuffle_and_keeps_the_output(tmp_path, channels):
    before = unfolded_model(tmp_path, channels)
    assert "Transpose" in ops(before)
    after = onnx.ModelProto()
    after.CopyFrom(before)
    assert fold_stem(after)
    assert not {"Transpose", "Reshape", "Squeeze", "Unsqueeze"} & set(ops(after))
    first = next(n for n in after.graph.node if n.op_type == "Conv")
    strides = next(a.ints for a in first.attribute if a.name == "strides")
    assert list(strides) == [2, 2]
    onnx.checker.check_model(after)
    assert max_difference(before, after, size=48) < 1e-4  # float rounding only
    assert not fold_stem(after)  # nothing left to fold


def test_cli_rewrites_in_place_keeping_metadata(tmp_path, capsys):
    path = tmp_path / "model.onnx"
    onnx.save(unfolded_model(tmp_path), str(path))
    assert main([str(path)]) == 0
    model = onnx.load(str(path))
    assert "Transpose" not in ops(model)
    assert {p.key: p.value for p in model.metadata_props} == {"name": "tiny"}
    assert main([str(path)]) == 0
    assert "nothing to fold" in capsys.readouterr().out


def test_export_writes_the_folded_graph(tmp_path):
    net = build(name="unet_ae", channels=3, widths=[8, 16], blocks=[1, 1]).eval()
    path = tmp_path / "exported.onnx"
    export_graph(net, path)
    assert "Transpose" not in ops(onnx.load(str(path)))
