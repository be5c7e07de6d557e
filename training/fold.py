"""Fold an exported graph's pixel-unshuffle stem into one strided convolution.

``python -m training.fold resources/models/ae-gray.onnx`` rewrites a model file in place
(metadata kept) after checking that onnxruntime gives the same output; ``training.export``
folds every graph it writes.

Why: ``PixelUnshuffle(r)`` followed by a k x k convolution equals one convolution of kernel
``k*r``, stride ``r`` and padding ``p*r`` on the full-resolution input: each weight moves to
the place in the big kernel of the pixel it read. Exported by torch, the unshuffle becomes a
chain of Reshape and Transpose nodes that onnxruntime runs outside its blocked (NCHWc)
convolution layout; the strided convolution reads the image straight into that layout. In
onnxruntime's profile of ae-color the Transpose took 3% of the kernel time; end to end the
saving is smaller than the run-to-run spread of ``denoiser bench`` on this CPU. The graph is
simpler and computes the same function, so every export folds it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

#: Nodes torch emits for a pixel unshuffle: they move values, they never compute any.
SHAPE_OPS = {"Reshape", "Transpose", "Unsqueeze", "Squeeze"}


def _unshuffle_chain(graph: onnx.GraphProto, conv: onnx.NodeProto) -> tuple[list, str]:
    """Shape-only nodes between ``conv`` and the tensor they rearrange, and that tensor."""
    producers = {out: n for n in graph.node for out in n.output}
    chain, tensor = [], conv.input[0]
    while tensor in producers and producers[tensor].op_type in SHAPE_OPS:
        chain.append(producers[tensor])
        tensor = producers[tensor].input[0]
    return chain, tensor


def _channels(model: onnx.ModelProto, tensor: str) -> int:
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(inferred.graph.input)
    dims = next(v.type.tensor_type.shape.dim for v in infos if v.name == tensor)
    return dims[1].dim_value


def fold_weight(w: np.ndarray, r: int) -> np.ndarray:
    """The ``(cout, c, k*r, k*r)`` kernel that equals ``w`` (``(cout, c*r*r, k, k)``) read
    through an unshuffle: unshuffled channel ``c*r*r + dy*r + dx`` holds pixel
    ``(r*y + dy, r*x + dx)`` of channel ``c``."""
    cout, cin, k, _ = w.shape
    c = cin // (r * r)
    w = w.reshape(cout, c, r, r, k, k).transpose(0, 1, 4, 2, 5, 3)
    return np.ascontiguousarray(w.reshape(cout, c, k * r, k * r))


def _drop_dead(graph: onnx.GraphProto) -> None:
    """Remove the nodes and initializers nothing reads any more."""
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    inputs = {i.name for i in graph.input}
    for init in [i for i in graph.initializer if i.name not in used | inputs]:
        graph.initializer.remove(init)


def fold_stem(model: onnx.ModelProto) -> bool:
    """Fold the first convolution's unshuffle into it, in place; False if there is none."""
    graph = model.graph
    conv = next((n for n in graph.node if n.op_type == "Conv"), None)
    if conv is None:
        return False
    chain, source = _unshuffle_chain(graph, conv)
    if not any(n.op_type == "Transpose" for n in chain):
        return False
    inits = {i.name: i for i in graph.initializer}
    if conv.input[1] not in inits:  # weights computed in the graph (quantized): left alone
        return False
    w = numpy_helper.to_array(inits[conv.input[1]])
    channels = _channels(model, source)
    if channels <= 0:  # not known from the graph: nothing to fold it by
        return False
    r = math.isqrt(w.shape[1] // channels)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    if r < 2 or attrs.get("group", 1) != 1 or any(s != 1 for s in attrs.get("strides", [1])):
        return False
    inits[conv.input[1]].CopyFrom(numpy_helper.from_array(fold_weight(w, r), conv.input[1]))
    k, pads = w.shape[-1], attrs.get("pads", [0, 0, 0, 0])
    del conv.attribute[:]
    conv.attribute.extend([
        onnx.helper.make_attribute("kernel_shape", [k * r, k * r]),
        onnx.helper.make_attribute("strides", [r, r]),
        onnx.helper.make_attribute("pads", [p * r for p in pads]),
    ])
    conv.input[0] = source
    _drop_dead(graph)
    return True


def max_difference(a: onnx.ModelProto, b: onnx.ModelProto, size: int = 96, seed: int = 0) -> float:
    """Largest output difference between two models on one random input (deterministic path)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sessions = [ort.InferenceSession(m.SerializeToString(), opts,
                                     providers=["CPUExecutionProvider"]) for m in (a, b)]
    rng = np.random.default_rng(seed)
    feed = {}
    for i in sessions[0].get_inputs():
        if i.name == "noisy":
            feed[i.name] = rng.random((1, i.shape[1], size, size), dtype=np.float32)
        elif i.name == "sigma":
            feed[i.name] = np.full((1, 1, size, size), 25 / 255, np.float32)
    outs = [sess.run(["denoised"], feed)[0] for sess in sessions]
    return float(np.abs(outs[0] - outs[1]).max())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", type=Path, nargs="+", help="ONNX files, rewritten in place")
    p.add_argument("--tol", type=float, default=1e-4, help="largest output change allowed")
    args = p.parse_args(argv)
    for path in args.models:
        before = onnx.load(str(path))
        after = onnx.ModelProto()
        after.CopyFrom(before)
        if not fold_stem(after):
            print(f"{path}: nothing to fold")
            continue
        diff = max_difference(before, after)
        if diff > args.tol:
            print(f"{path}: folded graph differs by {diff:.2e}; file left as it was",
                  file=sys.stderr)
            return 1
        onnx.checker.check_model(after)
        tmp = path.with_suffix(".fold.tmp")
        onnx.save(after, str(tmp))
        tmp.replace(path)
        print(f"{path}: stem folded, output changed by at most {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
