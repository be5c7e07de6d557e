"""Model files: where they live, what they claim (metadata) and whether they fit the contract.

The contract is in docs/model-contract.md. Metadata is read through onnxruntime (the
``onnx`` package is a development dependency only), with graph optimisation off so that
listing models stays cheap. Everything optional may be missing: a user's own model may
carry nothing but its inputs and output.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from denoiser.cpu import int8_is_fast
from denoiser.errors import ModelError

log = logging.getLogger(__name__)

MODELS_ENV = "DENOISER_MODELS_DIR"
# Colour photos get the photo model first: real camera noise is what users bring.
PREFERRED = {3: ("ae-photo", "ae-color", "ae-colour"), 1: ("ae-gray", "ae-grey")}
KNOWN_INPUTS = ("noisy", "sigma", "temperature")
STAND_IN_KEY = "stand_in_for"  # metadata: the int8 model this float32 graph replaces


class ModelNotFoundError(ModelError, LookupError):
    """No model has the given name, or the given path does not exist."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself, with defaults for what it does not say."""

    path: Path
    name: str
    family: str  # "ae" or "vae"
    channels: int  # 1 or 3
    noise_type: str
    sigma_range: tuple[float, float]  # 0-255 scale
    multiple: int  # H and W must be multiples of it
    version: str
    recipe: str
    description: str
    benchmarks: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    inputs: tuple[str, ...] = ()
    extra_inputs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    tile: int | None = None  # the tile side it runs fastest at, where it says (metadata)

    @property
    def blind(self) -> bool:
        """True when the model estimates the noise level itself (no ``sigma`` input)."""
        return "sigma" not in self.inputs

    @property
    def stochastic(self) -> bool:
        """True when the model can draw samples (a VAE with a ``temperature`` input)."""
        return "temperature" in self.inputs

    def summary(self) -> dict[str, Any]:
        """JSON-friendly view for listings (``denoiser models --json``)."""
        return {
            "name": self.name, "path": str(self.path), "family": self.family,
            "channels": self.channels, "noise_type": self.noise_type,
            "sigma_range": list(self.sigma_range), "multiple": self.multiple,
            "version": self.version, "description": self.description, "blind": self.blind,
            "stochastic": self.stochastic, "inputs": list(self.inputs),
            "extra_inputs": self.extra_inputs, "benchmarks": self.benchmarks,
            "tile": self.tile, "stands_in_for": self.metadata.get(STAND_IN_KEY),
        }


# ----------------------------------------------------------------------------- locations


def shipped_models_dir() -> Path:
    """Models shipped with the app: $DENOISER_MODELS_DIR, else the PyInstaller bundle's, else
    resources/models beside the package (source or editable install)."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources" / "models"
    # this file's folder is the package (denoiser.__file__'s folder, without importing it)
    return Path(__file__).resolve().parent.parent / "resources" / "models"


def user_models_dir() -> Path:
    """Where a user drops their own models (the platform's per-user data folder)."""
    home = Path.home()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "denoiser" / "models"


# ----------------------------------------------------------------------------- loading

_cache: dict[tuple[str, int, int], ModelInfo] = {}
_cache_lock = threading.Lock()


def load_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Read and check a model file; raise ModelError (one sentence) if it breaks the contract.

    Results are cached by (path, mtime, size) because the GUI lists models often.
    """
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError as e:
        raise ModelNotFoundError(f"Model file {p} does not exist or cannot be read.") from e
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    info = _read_info(p)
    with _cache_lock:
        _cache[key] = info
    return info


def _read_info(p: Path) -> ModelInfo:
    inputs, outputs, meta = _inspect(p)
    _check_io(p, inputs, outputs)
    return _build_info(p, inputs, meta)


def _inspect(p: Path) -> tuple[dict[str, tuple], dict[str, tuple], dict[str, str]]:
    """(inputs, outputs, metadata) of an ONNX file; inputs map name -> (type, shape, required)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises several unrelated types for a bad file
        raise ModelError(f"{p.name} is not a valid ONNX model ({_first_line(e)}).") from e
    inputs = {i.name: (i.type, tuple(i.shape), True) for i in sess.get_inputs()}
    for i in sess.get_overridable_initializers():
        inputs.setdefault(i.name, (i.type, tuple(i.shape), False))
    outputs = {o.name: (o.type, tuple(o.shape)) for o in sess.get_outputs()}
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    return inputs, outputs, meta


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:200] if text else type(e).__name__


def _check_io(p: Path, inputs: dict[str, tuple], outputs: dict[str, tuple]) -> None:
    """Reject inputs/outputs the engine cannot feed or read, naming the first problem."""
    if "noisy" not in inputs:
        raise ModelError(f"{p.name} has no input named 'noisy', so it is not a denoising model.")
    if "denoised" not in outputs:
        raise ModelError(f"{p.name} has no output named 'denoised', so it is not a denoiser.")
    extra = [n for n, (_, _, req) in inputs.items() if req and n not in KNOWN_INPUTS]
    if extra:
        raise ModelError(f"{p.name} needs an input '{extra[0]}' that the app cannot provide.")
    specs = {"noisy": inputs["noisy"][:2], "denoised": outputs["denoised"]}
    if "sigma" in inputs:
        specs["sigma"] = inputs["sigma"][:2]
    for name, (typ, shape) in specs.items():
        if typ != "tensor(float)" or len(shape) != 4:
            raise ModelError(f"{p.name}: '{name}' must be a float32 N x C x H x W tensor, "
                             f"not {typ} of shape {list(shape)}.")
    if "temperature" in inputs and inputs["temperature"][0] != "tensor(float)":
        raise ModelError(f"{p.name}: 'temperature' must be a float32 tensor.")
    sig_c = specs.get("sigma", (None, (0, 1)))[1][1]
    if isinstance(sig_c, int) and sig_c != 1:
        raise ModelError(f"{p.name}: 'sigma' must have one channel, not {sig_c}.")


def _static_channels(p: Path, inputs: dict[str, tuple]) -> int | None:
    c = inputs["noisy"][1][1]
    if not isinstance(c, int):
        return None
    if c not in (1, 3):
        raise ModelError(f"{p.name} takes {c}-channel images; only 1 (grey) or 3 (colour) work.")
    return c


def _build_info(p: Path, inputs: dict[str, tuple], meta: dict[str, str]) -> ModelInfo:
    static = _static_channels(p, inputs)
    channels = _meta_int(p, meta, "channels", static)
    if channels is None:
        raise ModelError(f"{p.name} does not say how many channels it takes "
                         "(add a 'channels' metadata entry or a fixed channel dimension).")
    if channels not in (1, 3) or (static is not None and static != channels):
        raise ModelError(f"{p.name} declares {channels} channels but its input says {static}.")
    multiple = _meta_int(p, meta, "multiple", 1)
    if multiple < 1:
        raise ModelError(f"{p.name} declares a size multiple of {multiple}; it must be at least 1.")
    family = meta.get("family") or ("vae" if "temperature" in inputs else "ae")
    tile = _meta_int(p, meta, "tile", None)
    if tile is not None and tile < multiple:
        raise ModelError(f"{p.name} declares a tile of {tile} px, under its size multiple.")
    return ModelInfo(
        path=p.resolve(), name=meta.get("name") or p.stem, family=family, channels=channels,
        noise_type=meta.get("noise_type") or "unknown",
        sigma_range=(_meta_float(p, meta, "sigma_min", 0.0),
                     _meta_float(p, meta, "sigma_max", 255.0)),
        multiple=multiple, version=meta.get("version", ""), recipe=meta.get("recipe", ""),
        description=meta.get("description", ""), benchmarks=_meta_json(p, meta, "benchmarks"),
        inputs=tuple(inputs), extra_inputs=_meta_json(p, meta, "extra_inputs"), metadata=meta,
        tile=tile,
    )


def _meta_int(p: Path, meta: dict[str, str], key: str, default: int | None) -> int | None:
    if not meta.get(key, "").strip():
        return default
    try:
        return int(meta[key])
    except ValueError as e:
        raise ModelError(f"{p.name}: metadata '{key}' should be a whole number, "
                         f"not {meta[key]!r}.") from e


def _meta_float(p: Path, meta: dict[str, str], key: str, default: float) -> float:
    if not meta.get(key, "").strip():
        return default
    try:
        return float(meta[key])
    except ValueError as e:
        raise ModelError(f"{p.name}: metadata '{key}' should be a number, "
                         f"not {meta[key]!r}.") from e


def _meta_json(p: Path, meta: dict[str, str], key: str) -> dict[str, Any]:
    if not meta.get(key, "").strip():
        return {}
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError as e:
        raise ModelError(f"{p.name}: metadata '{key}' is not valid JSON.") from e
    if not isinstance(value, dict):
        raise ModelError(f"{p.name}: metadata '{key}' should be a JSON object.")
    return value


# ----------------------------------------------------------------------------- lookup


def _model_files(folder: Path) -> list[Path]:
    try:
        return sorted(f for f in folder.glob("*.onnx") if f.is_file())
    except OSError as e:
        log.warning("cannot list models in %s: %s", folder, e)
        return []


def discover_models() -> list[ModelInfo]:
    """Shipped models, then the user's, each int8 one swapped for its stand-in where int8
    is slow (:func:`with_stand_ins`); a broken file is skipped with a logged warning."""
    return with_stand_ins(_all_models(), int8_is_fast())


def with_stand_ins(models: list[ModelInfo], int8_fast: bool) -> list[ModelInfo]:
    """``models`` with each int8 model that has a stand-in (a smaller float32 graph whose
    ``stand_in_for`` metadata names it) replaced by that stand-in, under the int8 model's
    name, where int8 is slow; elsewhere the stand-ins are left out. A stand-in whose model
    is not there stays, under its own name.

    Why: the int8 graph is the better model, and the faster one where the CPU has VNNI or
    AMX; without them it runs no faster than in float32, at half the speed of a float32
    network half its size (ae-color: 0.47 against about 1 MP/s on an AVX2-only CPU).
    """
    names = {m.name for m in models}
    stand_ins: dict[str, ModelInfo] = {}
    for m in models:
        target = m.metadata.get(STAND_IN_KEY)
        if target and target in names:
            stand_ins.setdefault(target, m)
    out = []
    for m in models:
        target = m.metadata.get(STAND_IN_KEY)
        if target and target in names:
            continue
        stand_in = stand_ins.get(m.name)
        swap = stand_in is not None and not int8_fast and m.metadata.get("precision") == "int8"
        out.append(replace(stand_in, name=m.name) if swap else m)
    return out


def _all_models() -> list[ModelInfo]:
    found: list[ModelInfo] = []
    seen: set[Path] = set()
    for folder in (shipped_models_dir(), user_models_dir()):
        for f in _model_files(folder):
            if f.resolve() in seen:
                continue
            seen.add(f.resolve())
            try:
                found.append(load_model_info(f))
            except ModelError as e:
                log.warning("skipping model %s: %s", f, e)
    return found


def _looks_like_path(s: str) -> bool:
    return s.lower().endswith(".onnx") or os.sep in s or "/" in s or Path(s).expanduser().is_file()


def _by_name(models: list[ModelInfo], name: str) -> ModelInfo | None:
    """The model called ``name``, else its reduced-precision variant (the installer ships only
    that), else None."""
    for wanted in (name, f"{name}-int8"):
        for m in models:
            if m.name == wanted:
                return m
    return None


def find_model(name_or_path: str | os.PathLike[str]) -> ModelInfo:
    """A model by file path or by name (first match, shipped before user's). A name whose
    float model is not installed finds its "-int8" variant: the installer ships only that.
    The name of an int8 model with a stand-in finds what :func:`discover_models` lists.

    Raises ModelNotFoundError for an unknown name or a missing file, ModelError for a bad file.
    """
    s = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(s):
        return load_model_info(s)
    every = _all_models()
    listed = with_stand_ins(every, int8_is_fast())
    found = _by_name(listed, s) or _by_name(every, s)  # a stand-in by its own name too
    if found is not None:
        return found
    names = ", ".join(m.name for m in listed) or "none installed"
    raise ModelNotFoundError(f"There is no model named '{s}' (available: {names}).")


def default_model(channels: int, *, stochastic: bool = False) -> ModelInfo:
    """The model to use for a ``channels``-channel image when the user did not choose one.

    Preference: the shipped AE for that channel count by name ("ae-photo", then "ae-color";
    "ae-gray"; each as float32, else its "-int8" variant), then any AE with matching channels,
    then any matching model, then any model at all (the engine adapts channels).
    ``stochastic`` asks for a VAE (for sampling) instead.
    """
    models = discover_models()
    if stochastic:
        models = [m for m in models if m.stochastic]
    if not models:
        kind = "stochastic (VAE) denoising model" if stochastic else "denoising model"
        raise ModelError(f"No {kind} is installed; put a .onnx file in "
                         f"{user_models_dir()} or pass a model file.")
    return choose_default(models, channels, stochastic=stochastic)


def choose_default(models: list[ModelInfo], channels: int, *,
                   stochastic: bool = False) -> ModelInfo:
    """``default_model``'s choice among ``models`` (not empty), without reading the disk."""
    family = "vae" if stochastic else "ae"
    names = PREFERRED.get(channels, ())
    for name in (n.replace("ae-", f"{family}-", 1) for n in names):
        found = _by_name(models, name)
        if found is not None:
            return found
    ranked = sorted(models, key=lambda m: (m.channels != channels, m.family != family))
    return ranked[0]
