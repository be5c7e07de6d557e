"""Export a checkpoint to ONNX under the app's model contract, with metadata and a parity check.

``python -m training.export --checkpoint runs/ae-color/last.pt --out resources/models/ae-color.onnx
--eval-json docs/eval/ae-color-CBSD68.json``

Inputs `noisy` (N x C x H x W) and `sigma` (N x 1 x H x W, sigma/255); output `denoised`.
A VAE also takes `temperature` (shape [1], default 0: the deterministic estimate).
Benchmark figures in the metadata come from evaluation JSON files, never typed in.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import yaml

from training import checkpoint, lineage
from training.fold import fold_stem
from training.fp16_storage import round_weights, store_weights_fp16

FORMAT_VERSION = "1"


class AEExport(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, noisy, sigma):
        return self.net(noisy, sigma)


class VAEExport(torch.nn.Module):
    """Decode with z = temperature * eps, eps drawn inside the graph (RandomNormalLike)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, noisy, sigma, temperature):
        body = self.net.body
        skips = body.encode(noisy, sigma)
        eps = torch.randn_like(skips[-1][:, : self.net.latent])
        return body.decode(noisy, skips, eps * temperature.reshape(1, 1, 1, 1))


def export_graph(net, path: Path, opset: int = 17) -> None:
    """Write ``net``'s graph, its unshuffle stem folded (:mod:`training.fold`)."""
    c = net.channels
    x, s = torch.rand(1, c, 64, 64), torch.full((1, 1, 64, 64), 0.1)
    dyn = {0: "batch", 2: "height", 3: "width"}
    if net.family == "vae":
        wrapper, args = VAEExport(net), (x, s, torch.zeros(1))
        names = ["noisy", "sigma", "temperature"]
    else:
        wrapper, args, names = AEExport(net), (x, s), ["noisy", "sigma"]
    torch.onnx.export(wrapper.eval(), args, str(path), input_names=names, output_names=["denoised"],
                      dynamic_axes={"noisy": dyn, "sigma": dyn, "denoised": dyn},
                      opset_version=opset, dynamo=False)
    model = onnx.load(str(path))
    if fold_stem(model):
        onnx.save(model, str(path))


def add_contract(path: Path, meta: dict[str, str], temperature_default: bool) -> None:
    """Attach metadata_props; give `temperature` a default of 0 so it may be omitted."""
    model = onnx.load(str(path))
    if temperature_default:
        model.graph.initializer.append(
            onnx.numpy_helper.from_array(np.zeros(1, np.float32), "temperature"))
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=str(v))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def parity(net, path: Path, size: int = 96, seed: int = 0) -> float:
    """Max abs difference between onnxruntime and torch on a random image (deterministic path)."""
    rng = np.random.default_rng(seed)
    x = rng.random((1, net.channels, size, size), dtype=np.float32)
    s = np.full((1, 1, size, size), 25 / 255, np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["denoised"], {"noisy": x, "sigma": s})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x), torch.from_numpy(s))
        ref = (ref[0] if isinstance(ref, tuple) else ref).numpy()
    return float(np.abs(got - ref).max())


def benchmarks_from(paths: list[Path]) -> dict:
    """PSNR/SSIM per test set and sigma, read from `training.evaluate --json` outputs."""
    out: dict = {}
    for p in paths:
        res = json.loads(p.read_text())
        ours = next(iter(res["methods"].values()))
        # one data set may come in several files (Gaussian sigmas, camera settings): merged
        data = out.setdefault(res["data"], {})
        data.update({s: {"psnr": round(r["psnr"], 2), "ssim": round(r["ssim"], 4)}
                     for s, r in ours.items()})
        for name, by_sigma in list(res["methods"].items())[1:]:
            data.setdefault(name, {}).update({s: round(r["psnr"], 2) for s, r in by_sigma.items()})
        if "vae" in res:
            data["vae"] = {k: round(v, 4) for k, v in res["vae"].items()}
    return out


def noise_type(recipe: dict) -> str:
    """The noise a recipe trains on, as the model contract names it: it decides how the app's
    Auto reads a picture's noise level for the model."""
    d = recipe["data"]
    return "camera" if "camera_noise" in d else d.get("noise", "gaussian")


def metadata(state: dict, net, version: str, bench: dict) -> dict[str, str]:
    recipe = state["recipe"]
    d = recipe["data"]
    meta = {
        "name": recipe["name"], "family": net.family, "channels": str(net.channels),
        "noise_type": noise_type(recipe),
        "sigma_min": "0",
        "sigma_max": str(d["sigma_max"]),
        "multiple": str(net.multiple), "version": version, "format_version": FORMAT_VERSION,
        "recipe": yaml.safe_dump(recipe, sort_keys=False),
        "training_steps": str(lineage.total_steps(state)),  # every run, warm starts included
        "training_stages": lineage.describe(state),
        "description": recipe.get("description", ""),
        "benchmarks": json.dumps(bench),
        "extra_inputs": "{}",
    }
    if net.family == "vae":
        meta["extra_inputs"] = json.dumps({"temperature": {
            "default": 0, "shape": [1],
            "description": "latent sampling temperature: 0 gives the deterministic estimate, "
                           "1 draws a sample from the prior"}})
    return meta


def export(ckpt: Path, out: Path, version: str, eval_json: list[Path], tol: float = 1e-4,
           extra: dict[str, str] | None = None, name: str | None = None,
           stand_in_for: str | None = None, fp16_weights: bool = False,
           tile: int | None = None) -> float:
    """Write ``out`` from ``ckpt``; ``extra`` metadata entries (e.g. fine-tuning) are added.

    ``name`` replaces the recipe's as the model's name: a later stage of a model (a grown
    network, say) has a recipe of its own but ships under the model's name.
    ``stand_in_for`` marks a smaller float32 graph that the app runs in place of that int8
    model on CPUs without VNNI or AMX (``denoiser.models.with_stand_ins``).
    ``fp16_weights`` stores the weights as float16 (:mod:`training.fp16_storage`).
    ``tile``: the tile side the app should run it on unless told otherwise (measured
    faster than the app's default with ``denoiser bench --tile``).
    """
    state = checkpoint.load(ckpt)
    net = checkpoint.model_from(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fp16_weights:
        round_weights(net)
    export_graph(net, out)
    if fp16_weights:
        store_weights_fp16(out)
    meta = metadata(state, net, version, benchmarks_from(eval_json)) | (extra or {})
    if name:
        meta["name"] = name
    if stand_in_for:
        meta["stand_in_for"] = stand_in_for
        meta["description"] += (f" This smaller float32 graph runs in place of {stand_in_for}'s "
                                "int8 one on CPUs without VNNI or AMX, where int8 is no faster.")
    if fp16_weights:
        meta["weights_stored_as"] = "float16"
    if tile:
        meta["tile"] = str(tile)
    add_contract(out, meta, temperature_default=net.family == "vae")
    diff = parity(net, out)
    if diff > tol:
        raise SystemExit(f"parity check failed: onnxruntime differs from torch by {diff:.2e}")
    return diff


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Export a checkpoint to ONNX with the model contract.")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--eval-json", type=Path, nargs="*", default=[],
                   help="training.evaluate --json outputs whose figures go into the metadata")
    p.add_argument("--name", help="the model's name if not its recipe's (a later stage of it)")
    p.add_argument("--stand-in-for", metavar="MODEL",
                   help="the int8 model this float32 graph replaces where int8 is slow")
    p.add_argument("--fp16-weights", action="store_true",
                   help="store the weights as float16 (rounded first; computed in float32)")
    p.add_argument("--tile", type=int, metavar="N",
                   help="the tile side the app runs it on by default (else the app's own)")
    args = p.parse_args(argv)
    diff = export(args.checkpoint, args.out, args.version, args.eval_json, name=args.name,
                  stand_in_for=args.stand_in_for, fp16_weights=args.fp16_weights,
                  tile=args.tile)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB); onnxruntime vs torch max abs diff {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
