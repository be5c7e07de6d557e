"""Quantisation-aware training computes what the int8 export computes, and stays out of the
checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch

from denoiser.cpu import int8_instructions
from training import checkpoint, qat
from training.archs import build
from training.train import train

ort = pytest.importorskip("onnxruntime")
quantize = pytest.importorskip("training.quantize")


def _tiny_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build("unet_ae", channels=3, widths=[8, 16], blocks=[2, 1], unshuffle=2).eval()
    with torch.no_grad():  # a trained-looking network: the zero-initialised tail as well
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    return net


def _feeds(n: int, side: int = 32, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"noisy": rng.random((1, 3, side, side), dtype=np.float32),
             "sigma": np.full((1, 1, side, side), 0.1 * (i + 1), np.float32)}
            for i in range(n)]


TINY = {"name": "unet_ae", "channels": 3, "widths": [8, 16], "blocks": [2, 1], "unshuffle": 2}
FLOAT_LAYERS = ("enc.0.0.body.0", "dec.0.0.body.2", "enc.0.1.body.0", "enc.0.1.body.2")


def _u8s8_saturates() -> bool:
    """Whether onnxruntime's int8 kernels can saturate on this CPU: x86 without VNNI sums
    pairs of uint8 x int8 products in 16 bits, which full-range weights overflow (the reason
    for reduce_range's 7-bit weights), so the graph no longer computes what torch rounds."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return int8_instructions(flags).endswith("no VNNI")


FULL_RANGE = pytest.mark.skipif(_u8s8_saturates(), reason="full-range int8 weights saturate "
                                "onnxruntime's kernels on x86 without VNNI")


@pytest.mark.parametrize(("float_adds", "reduce_range", "float_layers"),
                         [pytest.param(False, False, (), marks=FULL_RANGE),
                          pytest.param(True, False, (), marks=FULL_RANGE), (True, True, ()),
                          (True, True, FLOAT_LAYERS[:1]), (True, True, FLOAT_LAYERS[1:])])
def test_rounding_follows_the_int8_export(tmp_path, float_adds, reduce_range, float_layers):
    from training.export import export_graph

    net, feeds = _tiny_net(), _feeds(4)
    src, out = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export_graph(net, src)
    quantize.quantize_static_int8(src, out, feeds, "minmax", True, reduce_range, 2.0,
                                  float_ends=True, float_adds=float_adds,
                                  float_layers=float_layers, arch=TINY)
    weights = [onnx.numpy_helper.to_array(i) for i in onnx.load(str(out)).graph.initializer
               if i.data_type == onnx.TensorProto.INT8]
    assert max(np.abs(w.astype(int)).max() for w in weights) == (64 if reduce_range else 127)
    x = _feeds(1, seed=1)[0]
    int8 = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, x)[0]
    with torch.no_grad():
        args = torch.from_numpy(x["noisy"]), torch.from_numpy(x["sigma"])
        plain = net(*args).numpy()
        qat.calibrate(net, qat.attach(net, None, float_adds, reduce_range, float_layers), feeds)
        rounded = net(*args).numpy()
    off_plain = np.abs(plain - int8).mean()
    assert off_plain > 5e-4  # the rounding matters on this network
    # sums taken in another order flip a few roundings, whose effect the layers after carry
    assert np.abs(rounded - int8).mean() < 0.25 * off_plain


def test_the_ends_stay_float(tmp_path):
    from training.export import export_graph

    src = tmp_path / "float.onnx"
    export_graph(_tiny_net(), src)
    model = quantize.name_nodes(onnx.load(str(src)))
    kept = set(quantize.end_nodes(model))
    ops = sorted(n.op_type for n in model.graph.node if n.name in kept)
    assert ops == ["Concat", "Conv", "Conv", "DepthToSpace", "Sub"]
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    assert convs[0] in kept and convs[-1] in kept and not kept & set(convs[1:-1])


def test_qat_run_trains_and_saves_the_plain_network(tmp_path, image_root, tiny_recipe):
    tiny_recipe["data"]["train"] = ["train/tiny"]
    tiny_recipe["train"].update(steps=20, qat={"calibrate_every": 10})
    out = tmp_path / "run"
    result = train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    assert result["step"] == 20 and np.isfinite(result["loss"])
    state = checkpoint.load(out / "last.pt")
    plain = build(**tiny_recipe["arch"])
    assert set(state["model"]) == set(plain.state_dict())
    plain.load_state_dict(state["ema"])


def test_rounding_is_refused_where_it_does_not_mirror_the_export():
    vae = build("unet_cvae", channels=3, widths=[8, 16], blocks=[1, 1], unshuffle=2, latent=4)
    with pytest.raises(ValueError, match="plain U-Net AE"):
        qat.attach(vae)


def test_learnt_ranges_move_and_are_kept_for_resuming(tmp_path, image_root, tiny_recipe):
    tiny_recipe["train"].update(steps=10, ckpt_every=10, qat={"learn_ranges": True})
    out = tmp_path / "run"
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)
    ranges = checkpoint.load(out / "last.pt")["qat_ranges"]
    net = build(**tiny_recipe["arch"])
    net.load_state_dict(checkpoint.load(out / "last.pt")["ema"])
    measured = qat.attach(net)
    recipe = {**tiny_recipe, "data": {**tiny_recipe["data"]}}
    qat.calibrate(net, measured, qat.calibration_set(image_root, recipe, net.multiple))
    assert len(ranges) == len(measured)
    assert any(abs(r[1] - q.hi) > 1e-6 for r, q in zip(ranges, measured))  # trained, moved
    tiny_recipe["train"]["steps"] = 12
    train(tiny_recipe, out, image_root, max_minutes=None, threads=1)  # resumes with them
    assert len(checkpoint.load(out / "last.pt")["qat_ranges"]) == len(ranges)


def test_a_run_started_from_an_int8_aware_checkpoint_keeps_its_ranges(tmp_path, image_root,
                                                                      tiny_recipe):
    tiny_recipe["train"].update(steps=4, ckpt_every=4, qat={"learn_ranges": True})
    train(tiny_recipe, tmp_path / "first", image_root, max_minutes=None, threads=1)
    first = checkpoint.load(tmp_path / "first" / "last.pt")["qat_ranges"]
    go_on = {**tiny_recipe, "init": str(tmp_path / "first" / "last.pt"),
             "train": {**tiny_recipe["train"], "steps": 1, "lr": 1e-12,
                       "qat": {"learn_ranges": True, "reduce_range": True}}}
    train(go_on, tmp_path / "second", image_root, max_minutes=None, threads=1)
    second = checkpoint.load(tmp_path / "second" / "last.pt")["qat_ranges"]
    assert np.allclose(second, first, atol=1e-6)  # not measured afresh
    fresh = {**go_on, "train": {**go_on["train"], "qat": {"learn_ranges": True,
                                                          "float_adds": True}}}
    train(fresh, tmp_path / "third", image_root, max_minutes=None, threads=1)
    assert len(checkpoint.load(tmp_path / "third" / "last.pt")["qat_ranges"]) != len(first)


def test_a_float_run_between_two_int8_aware_ones_loses_no_ranges(tmp_path, image_root,
                                                                 tiny_recipe):
    """``qat.ranges_from``: the ranges come from an earlier int8-aware checkpoint, the
    weights from ``init`` (a float run that went on from it)."""
    tiny_recipe["train"].update(steps=4, ckpt_every=4, qat={"learn_ranges": True})
    train(tiny_recipe, tmp_path / "int8", image_root, max_minutes=None, threads=1)
    learnt = checkpoint.load(tmp_path / "int8" / "last.pt")["qat_ranges"]
    floated = {**tiny_recipe, "init": str(tmp_path / "int8" / "last.pt"),
               "train": {k: v for k, v in tiny_recipe["train"].items() if k != "qat"}}
    train(floated, tmp_path / "float", image_root, max_minutes=None, threads=1)
    assert checkpoint.load(tmp_path / "float" / "last.pt")["qat_ranges"] is None
    finish = {**floated, "init": str(tmp_path / "float" / "last.pt"),
              "train": {**tiny_recipe["train"], "steps": 1, "lr": 1e-12,
                        "qat": {"learn_ranges": True,
                                "ranges_from": str(tmp_path / "int8" / "last.pt")}}}
    train(finish, tmp_path / "finish", image_root, max_minutes=None, threads=1)
    assert np.allclose(checkpoint.load(tmp_path / "finish" / "last.pt")["qat_ranges"], learnt,
                       atol=1e-6)


def test_ranges_learnt_with_7_bit_weights_need_7_bit_weights(tmp_path, image_root, tiny_recipe):
    from training.export import export

    tiny_recipe["train"].update(steps=2, ckpt_every=2,
                                qat={"learn_ranges": True, "reduce_range": True})
    train(tiny_recipe, tmp_path / "run", image_root, max_minutes=None, threads=1)
    ckpt, src = tmp_path / "run" / "last.pt", tmp_path / "tiny.onnx"
    export(ckpt, src, "0.1.0", [])
    args = ["--model", str(src), "--calib-data", str(image_root / "train" / "tiny"),
            "--float-scale", "2", "--float-ends", "--ranges-from", str(ckpt)]
    with pytest.raises(SystemExit, match="reduce_range"):
        quantize.main([*args, "--out", str(tmp_path / "a.onnx")])
    assert quantize.main([*args, "--out", str(tmp_path / "b.onnx"), "--reduce-range"]) == 0


def test_a_network_trained_for_int8_ships_as_its_int8_graph(tmp_path, image_root, tiny_recipe):
    from training.export import export

    tiny_recipe["train"].update(steps=4, ckpt_every=4, qat={"learn_ranges": True})
    train(tiny_recipe, tmp_path / "run", image_root, max_minutes=None, threads=1)
    ckpt, src, out = tmp_path / "run" / "last.pt", tmp_path / "tiny.onnx", tmp_path / "q.onnx"
    export(ckpt, src, "0.1.0", [])
    assert quantize.main(["--model", str(src), "--out", str(out), "--calib-data",
                          str(image_root / "train" / "tiny"), "--float-scale", "2",
                          "--float-ends", "--ranges-from", str(ckpt), "--name", "tiny"]) == 0
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["name"] == "tiny" and meta["precision"] == "int8"
    assert "learnt" in json.loads(meta["quantization"])["ranges"]
    names = qat.onnx_tensors(build(**tiny_recipe["arch"]).body, onnx.load(str(src)).graph)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(out)).graph.initializer}
    for name, (lo, hi) in zip(names, checkpoint.load(ckpt)["qat_ranges"]):
        assert float(inits[f"{name}_scale"]) == pytest.approx((hi - lo) / 255, rel=1e-5)


def test_learnt_ranges_reach_the_int8_graph(tmp_path):
    from training.export import export_graph

    net, feeds = _tiny_net(), _feeds(4)
    src, out = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export_graph(net, src)
    quantize.quantize_static_int8(src, out, feeds, "minmax", True, True, 2.0, float_ends=True)
    quants = qat.attach(net, reduce_range=True)  # 7-bit weights: exact on every x86 CPU
    qat.calibrate(net, quants, feeds)
    for q in quants:  # as if training had clipped every range by a fifth
        q.lo, q.hi = 0.8 * q.lo, 0.8 * q.hi
    names = qat.onnx_tensors(net.body, onnx.load(str(src)).graph)
    assert len(set(names)) == len(quants)
    session = lambda: ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])  # noqa: E731
    x = _feeds(1, seed=1)[0]
    calibrated = session().run(None, x)[0]
    quantize.set_ranges(out, {n: (q.lo, q.hi) for n, q in zip(names, quants)})
    learnt = session().run(None, x)[0]
    with torch.no_grad():
        rounded = net(torch.from_numpy(x["noisy"]), torch.from_numpy(x["sigma"])).numpy()
    moved = np.abs(calibrated - rounded).mean()
    assert moved > 1e-4
    # a few roundings flip where sums are taken in another order (as above)
    assert np.abs(learnt - rounded).mean() < 0.1 * moved


@pytest.mark.parametrize("zero", [0.0, 3.0, 255.0])
def test_a_learnt_step_that_went_negative_is_exported_as_the_grid_torch_rounds_to(zero):
    """LSQ can move a step through zero; torch still rounds to an even grid, which the
    range handed to the int8 graph must describe (unsorted, it squeezed the tensor)."""
    q = qat.ActQuant()
    q.lo, q.hi = -0.5, 0.5
    q.learn()
    with torch.no_grad():
        q.scale.fill_(-0.002)
        q.zero.fill_(zero)
    x = torch.linspace(-0.7, 0.7, 2001)
    lo, hi = q.range()
    assert lo < hi
    step, point = qat.uint8_grid(lo, hi)
    exported = torch.fake_quantize_per_tensor_affine(x, step, point, 0, 255)
    assert torch.allclose(exported, q(x).detach(), atol=1e-6)
    assert qat.uint8_grid(hi, lo) == (step, point)


def test_float_layers_leave_the_int8_graph_and_drop_only_their_roundings(tmp_path):
    """A tensor stays unrounded only where no int8 layer reads it: the stem's output once the
    first block's first convolution is float32, a block's middle once both of its are."""
    from training.export import export_graph

    net = _tiny_net()
    export_graph(net, tmp_path / "float.onnx")
    graph = onnx.load(str(tmp_path / "float.onnx")).graph
    every = qat.onnx_tensors(net.body, graph, True)
    kept = qat.onnx_tensors(net.body, graph, True, FLOAT_LAYERS)
    gone = [t for t in every if t not in kept]
    assert set(kept) < set(every)
    assert any("/stem/" in t for t in gone)  # enc.0.0.body.0 reads it
    assert any("enc.0.1/body/body.1/" in t for t in gone)  # both convolutions of enc.0.1
    assert not any("enc.0.0/body/body.1/" in t for t in gone)  # enc.0.0.body.2 is int8
    ranges = [[-float(i), float(i + 1)] for i in range(len(every))]
    carried = qat.carry_ranges(net.body, ranges, True, (), FLOAT_LAYERS)
    assert carried == [ranges[every.index(t)] for t in kept]
    with pytest.raises(ValueError, match="float32 in training"):
        qat.carry_ranges(net.body, carried, True, FLOAT_LAYERS, ())
    with pytest.raises(ValueError, match="residual block"):
        qat.attach(net, float_adds=True, float_layers=["downs.0"])
    with pytest.raises(ValueError, match="needs float_adds"):
        qat.attach(net, float_layers=["enc.0.0.body.0"])


def test_a_run_that_keeps_a_layer_in_float_goes_on_with_the_other_ranges(tmp_path, image_root,
                                                                        tiny_recipe):
    tiny_recipe["train"].update(steps=4, ckpt_every=4,
                                qat={"learn_ranges": True, "float_adds": True})
    train(tiny_recipe, tmp_path / "int8", image_root, max_minutes=None, threads=1)
    learnt = checkpoint.load(tmp_path / "int8" / "last.pt")["qat_ranges"]
    layer = "enc.0.0.body.2"
    go_on = {**tiny_recipe, "init": str(tmp_path / "int8" / "last.pt"),
             "train": {**tiny_recipe["train"], "steps": 1, "lr": 1e-12,
                       "qat": {"learn_ranges": True, "float_adds": True,
                               "float_layers": [layer]}}}
    train(go_on, tmp_path / "more", image_root, max_minutes=None, threads=1)
    kept = checkpoint.load(tmp_path / "more" / "last.pt")["qat_ranges"]
    body = build(**tiny_recipe["arch"]).body
    assert np.allclose(kept, qat.carry_ranges(body, learnt, True, (), [layer]), atol=1e-6)
    assert len(kept) == len(learnt) - 1


@pytest.mark.parametrize("growth", [{"blocks": [2, 1]},
                                    {"attention": [1], "window": 4, "heads": 2}])
def test_a_grown_network_keeps_the_ranges_of_the_points_it_shares(tmp_path, image_root,
                                                                    tiny_recipe, growth):
    """Grown by residual blocks or by window attention (which start as the identity), an
    int8-aware run goes on with the learnt ranges of every rounding point the smaller network
    had; only the new blocks' are measured afresh (attention, float32, has none)."""
    qat_cfg = {"learn_ranges": True, "float_adds": True, "float_layers": ["enc.0.0.body.0"]}
    tiny_recipe["train"].update(steps=4, ckpt_every=4, qat=qat_cfg)
    train(tiny_recipe, tmp_path / "small", image_root, max_minutes=None, threads=1)
    learnt = checkpoint.load(tmp_path / "small" / "last.pt")["qat_ranges"]
    grown = {**tiny_recipe, "init": str(tmp_path / "small" / "last.pt"),
             "arch": {**tiny_recipe["arch"], **growth},
             "train": {**tiny_recipe["train"], "steps": 1, "lr": 1e-12}}
    train(grown, tmp_path / "grown", image_root, max_minutes=None, threads=1)
    kept = checkpoint.load(tmp_path / "grown" / "last.pt")["qat_ranges"]
    old = qat.point_names(build(**tiny_recipe["arch"]).body, True, qat_cfg["float_layers"])
    new = qat.point_names(build(**grown["arch"]).body, True, qat_cfg["float_layers"])
    assert set(old) <= set(new) and (len(new) > len(old)) == ("blocks" in growth)
    by_name = dict(zip(new, kept))
    assert np.allclose([by_name[n] for n in old], learnt, atol=1e-6)
    fresh = [by_name[n] for n in new if n not in old]
    assert all(lo < hi for lo, hi in fresh) and bool(fresh) == ("blocks" in growth)


def test_the_apps_session_runs_an_int8_graph_without_layout_transposes(tmp_path):
    """With float32 additions, onnxruntime's NHWC pass wraps each int8 convolution in
    transposes of the float stream (a sixth of ae-color's run time); the engine turns it off."""
    from denoiser.engine import _session_options
    from training.export import export_graph

    src, out = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export_graph(_tiny_net(), src)
    quantize.quantize_static_int8(src, out, _feeds(2), "minmax", True, True, 2.0,
                                  float_ends=True, float_adds=True, arch=TINY)

    def optimised_ops(opts) -> list[str]:
        opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
        ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node]

    app = optimised_ops(_session_options(1))
    assert "QLinearConv" in app and "Transpose" not in app
    default = ort.SessionOptions()
    default.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert "Transpose" in optimised_ops(default)  # what the option is for


def test_window_attention_stays_float_in_the_int8_graph_and_in_training(tmp_path):
    from training.export import export_graph

    torch.manual_seed(0)
    arch = {**TINY, "attention": [1], "window": 4, "heads": 2}
    net = build(**arch).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    feeds, src, out = _feeds(4), tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export_graph(net, src)
    quantize.quantize_static_int8(src, out, feeds, "minmax", True, True, 2.0, float_ends=True,
                                  float_adds=True)
    graph = onnx.load(str(out)).graph
    attention = [n for n in graph.node if "_attn" in n.name]
    assert {"MatMul", "Softmax", "Conv"} <= {n.op_type for n in attention}
    produced = {o: n.op_type for n in graph.node for o in n.output}
    assert not any(produced.get(i) == "DequantizeLinear" for n in attention for i in n.input)
    x = _feeds(1, seed=1)[0]
    int8 = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, x)[0]
    with pytest.raises(ValueError, match="float_adds"):
        qat.attach(build(**arch), None, float_adds=False)
    with torch.no_grad():
        args = torch.from_numpy(x["noisy"]), torch.from_numpy(x["sigma"])
        plain = net(*args).numpy()
        qat.calibrate(net, qat.attach(net, None, True, True), feeds)
        rounded = net(*args).numpy()
    assert "forward" not in vars(net.body.enc_attn[0][0].qkv)  # its weights are not rounded
    assert "forward" in vars(net.body.enc[0][0].body[0])
    assert np.abs(rounded - int8).mean() < 0.25 * np.abs(plain - int8).mean()
