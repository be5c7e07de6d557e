"""Reduced-precision variants of a shipped ONNX model (int8 or fp16), metadata carried over.

``python -m training.quantize --model resources/models/ae-color.onnx
--calib-data ../shared/datasets/train/CBSD432 --out ae-color-int8.onnx``

Why a variant at all: on a CPU without fast float16, 8-bit integer convolutions are the one
lever left once the graph, threads and tiling are tuned. Why a separate file instead of
replacing the model: the variant is only worth shipping if it keeps the quality, and that is
decided afterwards by ``training.evaluate`` (see ``within`` and ``--gate``).

Methods:

- ``static`` (default): int8 QDQ on the coarse layers, the fine ones left in float32
  (``--float-scale``, see ``float_nodes``). Activation ranges are calibrated on noisy crops
  of a few *training* images (never test images: the ranges would be tuned to the test set),
  at noise levels spread over the model's range, because sigma drives the activation ranges.
- ``dynamic``: int8 weights, activation ranges computed per run. No calibration data.
- ``fp16``: weights and activations in float16 with float32 inputs and outputs; only worth
  it where the execution provider has float16 kernels (CUDA; rarely a CPU).

The output keeps every metadata key of the source, renamed ``<name>-<precision>`` so that both
can be installed side by side, with ``precision``, ``quantization`` and ``base_model`` added.
The source's ``benchmarks`` figures do not hold for the variant: they are dropped unless
``--eval-json`` gives the variant's own (from ``training.evaluate --json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

METHODS = ("static", "dynamic", "fp16")
CALIBRATIONS = ("minmax", "percentile", "entropy")
PRECISION = {"static": "int8", "dynamic": "int8-dynamic", "fp16": "fp16"}


@dataclass(frozen=True)
class Calibration:
    """How the calibration crops are cut: count, side, noise levels, seed."""

    images: int = 12
    crop: int = 256
    sigmas: tuple[float, ...] = (5.0, 15.0, 25.0, 50.0, 75.0)
    seed: int = 0


# ----------------------------------------------------------------------------- calibration


def calibration_feeds(folder: Path, channels: int, multiple: int, calib: Calibration,
                      sigma_max: float) -> list[dict[str, np.ndarray]]:
    """Model inputs for calibration: one noisy crop per image, sigmas cycling over the range.

    Crops are centred and cut to a multiple of the model's ``multiple``; noise levels above
    the model's ``sigma_max`` are left out (the model was never meant to see them).
    """
    from denoiser.noise import add_gaussian_noise
    from training.data import list_images, load_image

    paths = list_images(folder)[: calib.images]
    if not paths:
        raise SystemExit(f"no calibration images in {folder}")
    sigmas = [s for s in calib.sigmas if s <= sigma_max] or [sigma_max]
    side = max(multiple, calib.crop // multiple * multiple)
    feeds = []
    for i, path in enumerate(paths):
        clean = _centre_crop(load_image(path, channels), side, multiple)
        sigma = sigmas[i % len(sigmas)]
        noisy = add_gaussian_noise(clean.astype(np.float32) / 255.0, sigma, seed=calib.seed + i)
        feeds.append({
            "noisy": np.ascontiguousarray(noisy.transpose(2, 0, 1)[None]),
            "sigma": np.full((1, 1, *noisy.shape[:2]), sigma / 255.0, np.float32),
        })
    return feeds


def _centre_crop(img: np.ndarray, side: int, multiple: int) -> np.ndarray:
    """The centre ``side`` x ``side`` (smaller for a small image), sides a multiple."""
    h, w = img.shape[:2]
    ch = max(multiple, min(side, h) // multiple * multiple)
    cw = max(multiple, min(side, w) // multiple * multiple)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return img[y0:y0 + ch, x0:x0 + cw]


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over prepared feeds (inputs it has only)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]], inputs: set[str]):
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(
            [{k: v for k, v in f.items() if k in inputs} for f in feeds])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:
        raise NotImplementedError("calibration reads the feeds once")


# ----------------------------------------------------------------------------- conversion


def name_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every unnamed node a unique name (in place; returns the model).

    Why: the quantiser excludes nodes by name, and hand-built graphs often leave names
    empty, so that excluding "" would exclude every unnamed node at once.
    """
    taken = {n.name for n in model.graph.node}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)
    return model


def float_nodes(model: onnx.ModelProto, scale: float, probe: int = 64) -> list[str]:
    """Nodes to keep in float32: those whose output is at least ``scale`` of the input's
    height (found by shape inference on a ``probe`` x ``probe`` input), and the output node.

    Why: the fine layers carry the detail that PSNR scores. On ae-color 0.1.0, measured on
    held-out training images, quantising every layer cost 0.55 dB at sigma 15; keeping the
    full- and half-resolution layers (``scale`` 0.5: stem, first encoder and last decoder
    stages, tail) in float32 still cost 0.07 dB there, and 0.11 dB on CBSD68; keeping the
    quarter-resolution ones too (0.25, the default) cost under 0.01 dB while the coarse
    layers, where most of the int8 speed is, stay quantised. ``scale`` above 1 quantises
    everything but the output. Nodes whose output is not an image-shaped tensor (reshapes of
    the pixel-unshuffle stem) count as full resolution.
    """
    sized = onnx.ModelProto()
    sized.CopyFrom(model)
    for graph_input in sized.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = 1, probe, probe
    inferred = onnx.shape_inference.infer_shapes(sized).graph
    heights = {v.name: _height(v) for v in [*inferred.value_info, *inferred.output]}
    keep = []
    for node in model.graph.node:
        h = min((heights.get(o) or probe for o in node.output), default=probe)
        if h >= scale * probe or "denoised" in node.output:
            keep.append(node.name)
    return keep


def end_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes from the inputs up to the first convolution and from the last convolution to
    the output: the stem and the tail, which ``training.qat`` keeps in float32.

    Why: they cost about 2 % of a U-Net's arithmetic, but 8 bits over the noisy input's range
    (about -1 to 2 at sigma 75) would give the noise level only to the nearest 3 levels of 255,
    and the residual the network subtracts only to a step of about 1 level.
    """
    consumers: dict[str, list[onnx.NodeProto]] = {}
    producer = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    keep: dict[str, None] = {}

    def walk(node: onnx.NodeProto, forward: bool) -> None:
        if node.name in keep:
            return
        keep[node.name] = None
        if node.op_type in ("Conv", "ConvTranspose"):
            return
        nxt = ([c for o in node.output for c in consumers.get(o, [])] if forward
               else [producer[i] for i in node.input if i in producer])
        for n in nxt:
            walk(n, forward)

    inputs = {i.name for i in model.graph.input}
    for node in model.graph.node:
        if any(i in inputs for i in node.input) and node.op_type == "Concat":
            walk(node, True)
    for out in model.graph.output:
        if out.name in producer:
            walk(producer[out.name], False)
    return list(keep)


def sum_in_float(path: Path) -> None:
    """Let each float32 addition read another addition's output unrounded (in place).

    The quantiser feeds every consumer of a rounded tensor its dequantised copy, float32
    additions too; reading the sum itself keeps the residual stream at full precision, and
    the rounded copy goes on to the convolutions only (``training.qat``'s ``float_adds``).
    """
    model = onnx.load(str(path))
    producer = {o: n for n in model.graph.node for o in n.output}

    def unrounded(name: str) -> str | None:
        dq = producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear":
            return None
        q = producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear":
            return None
        source = producer.get(q.input[0])
        return q.input[0] if source is not None and source.op_type == "Add" else None

    for node in model.graph.node:
        if node.op_type == "Add":
            for i, name in enumerate(node.input):
                node.input[i] = unrounded(name) or name
    _drop_unused(model)
    onnx.save(model, str(path))


def _drop_unused(model: onnx.ModelProto) -> None:
    """Remove nodes whose outputs nothing reads, until none is left."""
    outputs = {o.name for o in model.graph.output}
    while True:
        read = {i for n in model.graph.node for i in n.input} | outputs
        dead = [n for n in model.graph.node if not any(o in read for o in n.output)]
        if not dead:
            return
        for n in dead:
            model.graph.node.remove(n)


def _height(value: onnx.ValueInfoProto) -> int | None:
    """Height of an N x C x H x W tensor; None for other ranks (treated as full size)."""
    dims = value.type.tensor_type.shape.dim
    return dims[2].dim_value if len(dims) == 4 and dims[2].dim_value else None


def quantize_static_int8(src: Path, out: Path, feeds: Sequence[dict[str, np.ndarray]],
                         calibrate: str, per_channel: bool, reduce_range: bool,
                         float_scale: float, float_ends: bool = False,
                         float_adds: bool = False, float_layers: Sequence[str] = (),
                         arch: dict | None = None) -> dict:
    """int8 QDQ with calibrated activation ranges; returns the settings for the metadata.

    Layers at or above ``float_scale`` of the input resolution stay float32 (``float_nodes``),
    and so does the final ``noisy - residual``: 8-bit rounding there lands on every pixel.
    ``float_layers``: residual-block convolutions of the network ``arch`` kept in float32 too
    (``training.qat._rounding_points``).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[calibrate]
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = name_nodes(onnx.load(str(pre)))
        onnx.save(model, str(pre))
        inputs = {i.name for i in model.graph.input}
        exclude = float_nodes(model, float_scale)
        if float_ends:
            exclude = list(dict.fromkeys([*exclude, *end_nodes(model)]))
        if float_adds:
            exclude = list(dict.fromkeys([*exclude, *(n.name for n in model.graph.node
                                                       if n.op_type == "Add")]))
        exclude += [n.name for n in model.graph.node  # float32, as training.qat rounds it
                    if "/enc_attn" in n.name or "/dec_attn" in n.name]
        if float_layers:
            from training import qat
            from training.archs import build

            layers = qat.onnx_nodes(build(**arch).body, model.graph, float_layers)
            exclude = list(dict.fromkeys([*exclude, *layers]))
        quantize_static(str(pre), str(out), _Reader(feeds, inputs),
                        quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        reduce_range=reduce_range, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=method,
                        nodes_to_exclude=exclude,
                        extra_options={"CalibTensorRangeSymmetric": False})
    if float_adds:
        sum_in_float(out)
    return {"method": "static", "format": "QDQ", "activations": "uint8", "weights": "int8",
            "per_channel": per_channel, "reduce_range": reduce_range, "calibration": calibrate,
            "float_scale": float_scale, "float_ends": float_ends, "float_adds": float_adds,
            **({"float_layers": len(float_layers)} if float_layers else {}),
            "float_nodes": len(exclude),
            "int8_nodes": len(model.graph.node) - len(exclude)}


def set_ranges(path: Path, ranges: dict[str, tuple[float, float]]) -> None:
    """Give the rounded activations of a QDQ graph the ranges of a quantisation-aware
    training run (``training.qat``), in place of the calibrated ones: tensor name -> (lo, hi).

    The int32 biases are quantised again as well: onnxruntime's fused int8 convolution takes
    a bias at the scale of its input times that of its weights.
    """
    from onnx import numpy_helper

    from training.qat import uint8_grid

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    for tensor, (lo, hi) in ranges.items():
        scale, zero = inits.get(f"{tensor}_scale"), inits.get(f"{tensor}_zero_point")
        if scale is None or zero is None:
            raise ValueError(f"{tensor} is not rounded in {path.name}")
        step, point = uint8_grid(lo, hi)
        scale.CopyFrom(numpy_helper.from_array(np.array(step, np.float32), scale.name))
        zero.CopyFrom(numpy_helper.from_array(np.array(point, np.uint8), zero.name))
    _requantise_biases(model, inits)
    onnx.save(model, str(path))


def _requantise_biases(model: onnx.ModelProto, inits: dict) -> None:
    """Each int32 bias again at its convolution's input scale times its weight scales."""
    from onnx import numpy_helper

    value = lambda name: numpy_helper.to_array(inits[name])  # noqa: E731
    producer = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 3:
            continue
        dq = [producer.get(i) for i in node.input]
        if any(d is None or d.op_type != "DequantizeLinear" for d in dq):
            continue
        bias_q, bias_scale = dq[2].input[0], dq[2].input[1]
        if value(bias_q).dtype != np.int32:
            continue
        bias = value(bias_q).astype(np.float64) * value(bias_scale)
        new_scale = (value(dq[0].input[1]) * value(dq[1].input[1])).astype(np.float32)
        inits[bias_q].CopyFrom(numpy_helper.from_array(
            np.round(bias / new_scale).astype(np.int32), bias_q))
        inits[bias_scale].CopyFrom(numpy_helper.from_array(new_scale, bias_scale))


def ranges_from(state: dict, checkpoint_path: Path, float_model: Path, float_adds: bool = False,
                reduce_range: bool = False,
                float_layers: Sequence[str] = ()) -> dict[str, tuple[float, float]]:
    """The learnt ranges of a quantisation-aware checkpoint's ``state`` (loaded from
    ``checkpoint_path``, named in errors), keyed by the float graph's names; the graph must
    round what the run rounded (``float_adds`` and ``reduce_range`` as in its recipe), or
    less: ``float_layers`` may keep more layers in float32 than the run did."""
    from training import qat
    from training.archs import build

    if not state.get("qat_ranges"):
        raise SystemExit(f"{checkpoint_path} holds no quantisation-aware ranges")
    body = build(**state["arch"]).body
    trained = state["recipe"]["train"]["qat"]
    for option, asked in (("float_adds", float_adds), ("reduce_range", reduce_range)):
        if bool(trained.get(option, False)) != asked:
            raise SystemExit(f"{checkpoint_path} trained with {option} {not asked}: "
                             "quantise with the same")
    names = qat.onnx_tensors(body, onnx.load(str(float_model)).graph, float_adds, float_layers)
    ranges = qat.carry_ranges(body, state["qat_ranges"], float_adds,
                              trained.get("float_layers", ()), float_layers)
    return {n: tuple(r) for n, r in zip(names, ranges)}


def quantize_dynamic_int8(src: Path, out: Path, per_channel: bool, reduce_range: bool) -> dict:
    """int8 weights, activation ranges measured at run time (no calibration data)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(out), per_channel=per_channel, reduce_range=reduce_range,
                     weight_type=QuantType.QInt8)
    return {"method": "dynamic", "weights": "int8", "per_channel": per_channel,
            "reduce_range": reduce_range}


def convert_fp16(src: Path, out: Path) -> dict:
    """float16 weights and activations, float32 at the inputs and outputs (the contract)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(out))
    return {"method": "fp16", "weights": "float16", "activations": "float16"}


# ----------------------------------------------------------------------------- metadata


def carry_metadata(src: Path, out: Path, settings: dict, eval_json: Sequence[Path],
                   name: str | None = None) -> dict:
    """Copy the source's metadata onto ``out`` and mark the precision; returns the new dict.
    ``name``: the variant's own name instead of ``<source>-<precision>`` (a network trained
    for its int8 graph ships as that graph)."""
    meta = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    base = meta.get("name") or src.stem
    precision = PRECISION[settings["method"]]
    note = (f" {precision} variant of {base}." if name is None
            else f" Trained for {precision}: it runs as this {precision} graph.")
    meta.update({
        "name": name or f"{base}-{precision}",
        "base_model": base,
        "precision": precision,
        "quantization": json.dumps(settings),
        "benchmarks": json.dumps(_benchmarks(eval_json)),
        "description": (meta.get("description", "") + note).strip(),
    })
    _write_metadata(out, meta)
    return meta


def stamp_benchmarks(path: Path, eval_json: Sequence[Path]) -> None:
    """Replace a variant's ``benchmarks`` metadata with its own evaluation figures.

    Why apart from quantising: the figures exist only once the written variant has been
    evaluated, and re-quantising to carry them would be wasted work.
    """
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    meta["benchmarks"] = json.dumps(_benchmarks(eval_json))
    _write_metadata(path, meta, model)


def _write_metadata(path: Path, meta: dict[str, str],
                    model: onnx.ModelProto | None = None) -> None:
    model = onnx.load(str(path)) if model is None else model
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def _benchmarks(eval_json: Sequence[Path]) -> dict:
    """The variant's own figures from ``training.evaluate --json`` files (none: empty)."""
    if not eval_json:
        return {}
    from training.export import benchmarks_from  # torch is there whenever training is

    return benchmarks_from(list(eval_json))


# ----------------------------------------------------------------------------- the gate


def psnr_drops(reference: dict, variant: dict) -> dict[str, float]:
    """PSNR of the reference minus the variant's, per sigma (two ``evaluate --json`` dicts)."""
    ref = next(iter(reference["methods"].values()))
    var = next(iter(variant["methods"].values()))
    return {s: ref[s]["psnr"] - var[s]["psnr"] for s in ref if s in var}


def within(reference: dict, variant: dict, tolerance_db: float = 0.1) -> bool:
    """True when the variant loses at most ``tolerance_db`` at every sigma both measured."""
    drops = psnr_drops(reference, variant)
    return bool(drops) and max(drops.values()) <= tolerance_db


# ----------------------------------------------------------------------------- main


def quantize(src: Path, out: Path, method: str, calib_data: Path | None, calib: Calibration,
             calibrate: str = "minmax", per_channel: bool = True, reduce_range: bool = False,
             float_scale: float = 0.25, eval_json: Sequence[Path] = (),
             float_ends: bool = False, learnt: Path | None = None,
             name: str | None = None, float_adds: bool = False,
             float_layers: Sequence[str] = ()) -> dict:
    """Write the variant of ``src`` to ``out``; returns its metadata. ``learnt``: a
    quantisation-aware checkpoint whose ranges replace the calibrated ones (and whose
    network names the ``float_layers``)."""
    from denoiser.models import load_model_info

    info = load_model_info(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    if method == "static":
        if calib_data is None:
            raise SystemExit("--calib-data is needed for static quantisation")
        feeds = calibration_feeds(calib_data, info.channels, info.multiple, calib,
                                  info.sigma_range[1])
        if float_layers and learnt is None:  # the network's paths name the layers
            raise SystemExit("--float-layers needs --ranges-from (the network's checkpoint)")
        state = None
        if learnt is not None:  # loaded once: it names the layers and holds the ranges
            from training import checkpoint

            state = checkpoint.load(learnt)
        arch = state["arch"] if float_layers else None
        settings = quantize_static_int8(src, out, feeds, calibrate, per_channel, reduce_range,
                                        float_scale, float_ends, float_adds, float_layers, arch)
        settings["calibration_images"] = f"{len(feeds)} centre crops of {calib_data.name}"
        if learnt is not None:
            set_ranges(out, ranges_from(state, learnt, src, float_adds, reduce_range,
                                        float_layers))
            settings["ranges"] = f"learnt in training ({learnt.name})"
    elif method == "dynamic":
        settings = quantize_dynamic_int8(src, out, per_channel, reduce_range)
    else:
        settings = convert_fp16(src, out)
    meta = carry_metadata(src, out, settings, eval_json, name)
    load_model_info(out)  # the variant must still meet the model contract
    return meta


def _gate(paths: Sequence[Path], tolerance: float) -> int:
    """``--gate REF.json VARIANT.json``: exit 0 if within tolerance at every sigma, else 1."""
    ref, var = (json.loads(p.read_text(encoding="utf-8")) for p in paths)
    for sigma, drop in psnr_drops(ref, var).items():
        print(f"sigma {sigma}: {drop:+.3f} dB lost")
    ok = within(ref, var, tolerance)
    print(f"{'within' if ok else 'NOT within'} {tolerance:g} dB at every sigma")
    return 0 if ok else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, help="the float32 ONNX model")
    p.add_argument("--out", type=Path, help="where to write the variant")
    p.add_argument("--method", choices=METHODS, default="static")
    p.add_argument("--calib-data", type=Path, help="folder of training images (static only)")
    p.add_argument("--calib-images", type=int, default=Calibration.images,
                   help=f"how many images to calibrate on (default {Calibration.images})")
    p.add_argument("--crop", type=int, default=Calibration.crop,
                   help=f"calibration crop side in pixels (default {Calibration.crop})")
    p.add_argument("--calibrate", choices=CALIBRATIONS, default="minmax",
                   help="how activation ranges are chosen (default minmax)")
    p.add_argument("--no-per-channel", dest="per_channel", action="store_false",
                   help="one weight scale per tensor instead of per output channel")
    p.add_argument("--reduce-range", action="store_true",
                   help="7-bit weights: avoids int16 saturation on AVX2 CPUs without VNNI")
    p.add_argument("--float-scale", type=float, default=0.25, metavar="F",
                   help="keep layers at F of the input resolution or finer in float32 "
                        "(default 0.25: full, half and quarter resolution; 2: quantise all)")
    p.add_argument("--float-ends", action="store_true",
                   help="also keep the stem and tail convolutions in float32 (as "
                        "quantisation-aware training, training.qat, assumes)")
    p.add_argument("--float-adds", action="store_true",
                   help="keep the additions in float32, the residual stream unrounded (as "
                        "training.qat's float_adds assumes)")
    p.add_argument("--ranges-from", type=Path, metavar="CHECKPOINT",
                   help="use the activation ranges learnt by this quantisation-aware run "
                        "(training.qat) instead of the calibrated ones")
    p.add_argument("--float-layers", nargs="+", default=[], metavar="PATH",
                   help="residual-block convolutions to keep in float32, e.g. enc.0.0.body.0 "
                        "(with --ranges-from; rounding a tensor only where it enters int8)")
    p.add_argument("--name", help="the variant's model name (default <source>-<precision>); "
                                  "a network trained for int8 ships under its own")
    p.add_argument("--eval-json", type=Path, nargs="*", default=[],
                   help="the variant's training.evaluate --json figures for its metadata")
    p.add_argument("--json", type=Path,
                   help="also write the command, the new name and the settings here "
                        "(benchmarks/make_docs.py --quant reads it)")
    p.add_argument("--gate", type=Path, nargs=2, metavar=("REF_JSON", "VARIANT_JSON"),
                   help="only compare two evaluate JSONs: exit 1 if the variant loses more "
                        "than --tolerance dB at any sigma")
    p.add_argument("--tolerance", type=float, default=0.1, help="dB (default 0.1)")
    args = p.parse_args(argv)
    if args.gate is None and (args.model is None or args.out is None):
        p.error("--model and --out are required (unless --gate)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.gate is not None:
        return _gate(args.gate, args.tolerance)
    calib = Calibration(images=args.calib_images, crop=args.crop)
    meta = quantize(args.model, args.out, args.method, args.calib_data, calib, args.calibrate,
                    args.per_channel, args.reduce_range, args.float_scale, args.eval_json,
                    args.float_ends, args.ranges_from, args.name, args.float_adds,
                    args.float_layers)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB): {meta['name']}, {meta['quantization']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": "python -m training.quantize " + " ".join(sys.argv[1:] if argv is None
                                                                else argv),
            "model": str(args.out), "name": meta["name"], "base_model": meta["base_model"],
            "precision": meta["precision"], "settings": json.loads(meta["quantization"]),
            "megabytes": size}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
