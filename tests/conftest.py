"""Tiny ONNX models built with onnx.helper (never torch), and a models folder to hold them.

Why hand-built graphs: their outputs are known in closed form (a mean-filter stack has a
receptive-field radius equal to its number of layers; a pool/upsample pair only works on
sizes that are multiples of 2), so the engine's tiling, padding and channel handling can
be checked exactly, in milliseconds, before any trained model exists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

# tests/denoiser/ has no __init__.py, and pytest puts tests/ on sys.path, so a bare
# `import denoiser` would find tests/denoiser as a namespace package (no __file__, no
# __version__). The repository root on sys.path makes the real package win.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if getattr(sys.modules.get("denoiser"), "__file__", "") is None:
    del sys.modules["denoiser"]

MEAN_LAYERS = 4  # receptive-field radius of the default mean-filter model


def _onnx():
    return pytest.importorskip("onnx")


def _io(name: str, channels: int | str, rank: int = 4):
    onnx = _onnx()
    shape = ["N", channels, "H", "W"][:rank]
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)


def _mean_conv_nodes(channels: int, layers: int, src: str, dst: str):
    """Depthwise 3x3 mean filters, zero-padded: ``layers`` of them, radius ``layers``."""
    onnx = _onnx()
    h = onnx.helper
    w = np.full((channels, 1, 3, 3), 1 / 9, np.float32)
    inits = [onnx.numpy_helper.from_array(w, "mean_w")]
    nodes, prev = [], src
    for i in range(layers):
        out = dst if i == layers - 1 else f"conv{i}"
        nodes.append(h.make_node("Conv", [prev, "mean_w"], [out], group=channels,
                                 kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        prev = out
    return nodes, inits


def save_model(path: Path, nodes, inputs, outputs, inits=(), meta: dict | None = None) -> Path:
    """Check and save a graph with string metadata_props."""
    onnx = _onnx()
    graph = onnx.helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v if isinstance(v, str) else json.dumps(v))
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def mean_model(path: Path, channels: int = 3, layers: int = MEAN_LAYERS, sigma: bool = True,
               meta: dict | None = None, static_channels: bool = True) -> Path:
    """Mean-filter stack; with ``sigma``, adds 0 * sigma so that the input exists but is inert."""
    onnx = _onnx()
    h = onnx.helper
    nodes, inits = _mean_conv_nodes(channels, layers, "noisy", "smooth" if sigma else "denoised")
    inputs = [_io("noisy", channels if static_channels else "C")]
    if sigma:
        inputs.append(_io("sigma", 1))
        inits.append(onnx.numpy_helper.from_array(np.zeros(1, np.float32), "zero"))
        nodes += [h.make_node("Mul", ["sigma", "zero"], ["s0"]),
                  h.make_node("Add", ["smooth", "s0"], ["denoised"])]
    return save_model(path, nodes, inputs, [_io("denoised", channels)], inits, meta)


def sigma_echo_model(path: Path, channels: int = 3, meta: dict | None = None) -> Path:
    """Output = 0 * noisy + sigma: shows exactly what noise level the engine fed."""
    onnx = _onnx()
    h = onnx.helper
    inits = [onnx.numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    nodes = [h.make_node("Mul", ["noisy", "zero"], ["z"]),
             h.make_node("Add", ["z", "sigma"], ["denoised"])]
    return save_model(path, nodes, [_io("noisy", channels), _io("sigma", 1)],
                      [_io("denoised", channels)], inits, meta)


def pool_model(path: Path, channels: int = 3, levels: int = 2, meta: dict | None = None) -> Path:
    """``levels`` 2x2 average pools, then nearest upsampling back: needs sizes % 2**levels == 0.

    Like a U-Net, its result depends on where the downsampling grid falls.
    """
    onnx = _onnx()
    h = onnx.helper
    f = 2**levels
    inits = [onnx.numpy_helper.from_array(np.array([1, 1, f, f], np.float32), "scales")]
    nodes, prev = [], "noisy"
    for i in range(levels):
        nodes.append(h.make_node("AveragePool", [prev], [f"p{i}"], kernel_shape=[2, 2],
                                 strides=[2, 2]))
        prev = f"p{i}"
    nodes.append(h.make_node("Resize", [prev, "", "scales"], ["denoised"], mode="nearest"))
    meta = {"multiple": str(f), **(meta or {})}
    return save_model(path, nodes, [_io("noisy", channels)], [_io("denoised", channels)],
                      inits, meta)


def vae_model(path: Path, channels: int = 3, meta: dict | None = None) -> Path:
    """Mean filter + temperature * 0.1 * N(0, 1) noise; ``temperature`` defaults to 0."""
    onnx = _onnx()
    h = onnx.helper
    nodes, inits = _mean_conv_nodes(channels, 1, "noisy", "smooth")
    inits += [onnx.numpy_helper.from_array(np.zeros(1, np.float32), "temperature"),
              onnx.numpy_helper.from_array(np.array([0.1], np.float32), "scale"),
              onnx.numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    nodes += [h.make_node("RandomNormalLike", ["noisy"], ["eps"]),
              h.make_node("Mul", ["eps", "temperature"], ["t1"]),
              h.make_node("Mul", ["t1", "scale"], ["t2"]),
              h.make_node("Mul", ["sigma", "zero"], ["s0"]),
              h.make_node("Add", ["smooth", "t2"], ["t3"]),
              h.make_node("Add", ["t3", "s0"], ["denoised"])]
    temp = onnx.helper.make_tensor_value_info("temperature", onnx.TensorProto.FLOAT, [1])
    meta = {"name": "vae-color", "family": "vae", "channels": str(channels),
            "extra_inputs": {"temperature": {"default": 0, "description": "sampling temperature"}},
            **(meta or {})}
    return save_model(path, nodes, [_io("noisy", channels), _io("sigma", 1), temp],
                      [_io("denoised", channels)], inits, meta)


def wrong_io_model(path: Path) -> Path:
    """A valid ONNX file whose input is called 'image': not under the contract."""
    onnx = _onnx()
    node = onnx.helper.make_node("Identity", ["image"], ["denoised"])
    return save_model(path, [node], [_io("image", 3)], [_io("denoised", 3)])


def wrong_rank_model(path: Path) -> Path:
    """'noisy' and 'denoised' are 3-D (C x H x W): the wrong shape."""
    onnx = _onnx()
    node = onnx.helper.make_node("Identity", ["noisy"], ["denoised"])
    return save_model(path, [node], [_io("noisy", 3, rank=3)], [_io("denoised", 3, rank=3)])


def shrinking_model(path: Path) -> Path:
    """Loads fine but crops its output by one pixel: fails only when run."""
    onnx = _onnx()
    h = onnx.helper
    inits = [onnx.numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
             (("starts", [0]), ("ends", [-1]), ("axes", [3]))]
    node = h.make_node("Slice", ["noisy", "starts", "ends", "axes"], ["denoised"])
    return save_model(path, [node], [_io("noisy", 3)], [_io("denoised", 3)], inits)


COLOR_META = {"name": "ae-color", "family": "ae", "channels": "3", "noise_type": "gaussian",
              "sigma_min": "0", "sigma_max": "75", "multiple": "8", "version": "1.0.0",
              "recipe": "name: ae-color", "description": "test colour model",
              "benchmarks": {"CBSD68": {"25": {"psnr": 31.0}}}, "extra_inputs": {}}
GRAY_META = {**COLOR_META, "name": "ae-gray", "channels": "1", "description": "test grey model"}


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    """An empty shipped-models folder and an empty user data dir, both private to the test."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setenv("DENOISER_MODELS_DIR", str(shipped))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("sys.platform", "linux")
    return shipped


@pytest.fixture
def color_model(models_dir) -> Path:
    """The shipped colour mean-filter model (radius 4, multiple 8, with a sigma input)."""
    return mean_model(models_dir / "ae-color.onnx", 3, meta=COLOR_META)


@pytest.fixture
def gray_model(models_dir) -> Path:
    return mean_model(models_dir / "ae-gray.onnx", 1, meta=GRAY_META)


@pytest.fixture
def installed_models(color_model, gray_model) -> tuple[Path, Path]:
    """Both default models in the shipped folder (what the app will ship)."""
    return color_model, gray_model


@pytest.fixture
def vae_path(tmp_path) -> Path:
    return vae_model(tmp_path / "vae-color.onnx")


@pytest.fixture
def noisy_rgb() -> np.ndarray:
    """A 70 x 90 smooth colour image plus Gaussian noise, float32 in 0..1."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:70, 0:90] / 90.0
    img = np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.5 + 0.2 * np.sin(5 * x)], -1)
    return (img + rng.normal(0, 0.05, img.shape)).astype(np.float32)


@pytest.fixture
def build() -> SimpleNamespace:
    """The model builders, for tests that need a model the fixtures above do not give.

    Why a fixture: importing from a conftest is ambiguous when several folders have one.
    """
    return SimpleNamespace(
        mean=mean_model, sigma_echo=sigma_echo_model, pool=pool_model, vae=vae_model,
        wrong_io=wrong_io_model, wrong_rank=wrong_rank_model, shrinking=shrinking_model,
        save=save_model, color_meta=COLOR_META, gray_meta=GRAY_META,
    )
