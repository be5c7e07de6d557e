"""Inference: an onnxruntime session per model and device, run tile by tile.

Why tiles: memory stays bounded by one tile's activations (two, for graphs that run two
tiles at once) whatever the photo size, and a GUI worker can report progress and be
cancelled between tiles (see denoiser.tiling for the layout and the blend). The engine
never imports Qt or torch.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort

from denoiser import tiling
from denoiser.cancel import CancelToken, check
from denoiser.errors import ModelError
from denoiser.models import ModelInfo

log = logging.getLogger(__name__)

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")

Progress = Callable[[int, int], None]
Sigma = float | np.ndarray | None
#: runs the network on one NCHW tile (in the image's channel layout) -> NCHW result
TileRun = Callable[[np.ndarray, np.ndarray | None], np.ndarray]
#: (noisy tile, sigma tile, tick) -> the tile's outputs, calling tick() after each network run
TileFn = Callable[[np.ndarray, np.ndarray | None, Callable[[], None]], Sequence[np.ndarray]]

_seed_lock = threading.Lock()
SIDE_BY_SIDE_INT8_SHARE = 0.3  # see pays_side_by_side
_SHRINK = ort.RunOptions()  # a run that frees the arena's unused memory when it ends
_SHRINK.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")


def available_devices() -> list[str]:
    """Devices this onnxruntime build can try: always "cpu", plus "cuda" when it has CUDA."""
    return ["cpu"] + (["cuda"] if CUDA in ort.get_available_providers() else [])


def _session_options(threads: int) -> ort.SessionOptions:
    """Options for every session, each compared by CPU time per tile on ae-color 0.1.0.

    - ``ORT_ENABLE_ALL``: its layout pass (blocked NCHWc convolutions) is where the CPU speed
      is; EXTENDED or BASIC took about a third longer.
    - The memory arena stays on: every tile of an image has one shape, so the arena hands
      the same blocks back tile after tile (turning it off changed nothing measurable).
    - Sequential execution (the default): the graph is a chain, parallel mode only adds
      scheduling. One intra-op thread per core, shared out between the two sessions of
      tiles run side by side.
    - No saved optimised model: the session starts in about 0.1 s of CPU and a saved
      ENABLE_ALL graph, which is tied to the CPU it was made on, saved about half of that.
    - No NHWC pass for int8 convolutions: in a graph whose additions stay float32 (ae-color 0.11.0)
      it wraps each int8 convolution in transposes of the float stream, a sixth of the run
      time; the NCHW int8 kernels give the same output, bit for bit, without them.
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3  # warnings about initializers-as-inputs are noise to a user
    opts.add_session_config_entry("optimization.disable_specified_optimizers", "NhwcTransformer")
    return opts


def pays_side_by_side(model: ModelInfo) -> bool:
    """Whether two tiles at once, on half the threads each, beat one tile on all of them.

    Why it depends on the graph: onnxruntime spreads an int8 graph's many elementwise steps
    between convolutions over threads less well than the convolutions themselves. On one
    1024 px tile of ae-color (``benchmarks/op_profile.py``), from one thread to two the
    convolutions ran 1.9 times as fast, the additions 1.7, quantising 1.6, and dequantising
    no faster at all. Measured on a 2-core AMD EPYC at 12 MP (``denoiser bench --sizes
    12``, each model run both ways): ae-color, 96 of 138 nodes int8, 0.84 -> 1.14 MP/s;
    ae-photo-int8, 16 of 50, 1.85 -> 2.07; vae-gray-int8, 26 of 108, 0.88 -> 0.89;
    ae-gray-int8, 9 of 76, and the float32 models within a few hundredths. Where it does
    not pay it still costs a second tile's memory (ae-gray-int8 +570 MB), so graphs with
    less than ``SIDE_BY_SIDE_INT8_SHARE`` of their nodes in int8 keep to one tile at a time.
    """
    try:
        q = json.loads(model.metadata.get("quantization") or "{}")
        int8, other = int(q.get("int8_nodes", 0)), int(q.get("float_nodes", 0))
    except (ValueError, TypeError, AttributeError):
        return False
    return int8 > 0 and int8 >= SIDE_BY_SIDE_INT8_SHARE * (int8 + other)


class Engine:
    """One model on one device. ``denoise`` and ``sample`` are safe to call from any thread."""

    def __init__(self, model: ModelInfo, device: str = "auto", threads: int | None = None):
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        self.model = model
        self.threads = threads or os.cpu_count() or 1
        self.fallback_reason: str | None = None
        want_cuda = device == "cuda" or (device == "auto" and CUDA in ort.get_available_providers())
        self._providers = [CUDA, CPU] if want_cuda else [CPU]
        self._session = self._start()
        self._pair: list[ort.InferenceSession] | None = None
        self._pair_lock = threading.Lock()

    # ------------------------------------------------------------------ session

    def _new_session(self, providers: list[str],
                     threads: int | None = None) -> ort.InferenceSession:
        try:
            return ort.InferenceSession(
                str(self.model.path), _session_options(threads or self.threads),
                providers=providers,
            )
        except Exception as e:  # onnxruntime raises assorted types; the user needs one sentence
            if CUDA in providers:
                raise
            raise ModelError(f"Model {self.model.name} could not be loaded "
                             f"({str(e).strip().splitlines()[-1][:200]}).") from e

    def _start(self) -> ort.InferenceSession:
        """Start the session; if CUDA was chosen but does not start, fall back to CPU."""
        if CUDA not in self._providers:
            return self._new_session([CPU])
        if CUDA not in ort.get_available_providers():
            return self._fall_back("this onnxruntime build has no CUDA support")
        try:
            sess = self._new_session(self._providers)
        except Exception as e:  # any CUDA start failure means "use the CPU", never a crash
            return self._fall_back(f"CUDA could not start ({str(e).strip()[:200]})")
        if CUDA not in sess.get_providers():
            return self._fall_back("onnxruntime did not enable CUDA for this model", sess)
        return sess

    def _fall_back(self, reason: str, sess: ort.InferenceSession | None = None):
        self.fallback_reason = reason
        log.warning("%s; using the CPU instead", reason)
        self._providers = [CPU]
        return sess if sess is not None else self._new_session([CPU])

    def _seeded_session(self, seed: int | None) -> ort.InferenceSession:
        """The shared session, or for a seed a fresh one: random ops take their seed at creation."""
        if seed is None:
            return self._session
        with _seed_lock:
            ort.set_seed(int(seed))
            return self._new_session(self._providers)

    def _side_by_side(self, seeded: bool) -> list[ort.InferenceSession]:
        """Two CPU sessions with half the threads each, to run two tiles at once; none where
        that does not pay (see ``pays_side_by_side``) or does not apply (one thread, a GPU,
        or seeded sampling, whose draws must come in one order). Started on first use: a
        picture of one tile never needs them.
        """
        if seeded or self.threads < 2 or self.device != "cpu" or not pays_side_by_side(self.model):
            return []
        with self._pair_lock:
            if self._pair is None:
                half = self.threads // 2
                self._pair = [self._new_session([CPU], self.threads - half),
                              self._new_session([CPU], half)]
            return self._pair

    def _release(self, sessions: Sequence[ort.InferenceSession]) -> None:
        """Hand the memory the side-by-side sessions took for a picture's tiles back.

        Why: each keeps its largest tile's buffers in its arena after the picture, and the
        app keeps engines for reuse; for ae-color that held about 200 MB more while idle after a
        6 MP picture. A run on one small zero tile with arena shrinkage frees them; the next
        picture takes them again, a few milliseconds against its seconds.
        """
        if not sessions:
            return
        m = self.model.multiple
        feed = {"noisy": np.zeros((1, self.model.channels, m, m), np.float32)}
        if not self.model.blind:
            feed["sigma"] = np.zeros((1, 1, m, m), np.float32)
        if self.model.stochastic:
            feed["temperature"] = np.zeros(1, np.float32)
        for session in sessions:
            try:
                session.run(["denoised"], feed, _SHRINK)
            except Exception as e:  # freeing memory must not hide how the picture went
                log.warning("could not free %s's tile memory: %s", self.model.name, e)

    @property
    def device(self) -> str:
        return "cuda" if CUDA in self._session.get_providers() else "cpu"

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    @property
    def default_tile(self) -> int:
        """The tile side when a call gives none (or 0): the model's own (its ``tile``
        metadata, for a graph measured faster on larger tiles), else ``DEFAULT_TILE``."""
        return self.model.tile or tiling.DEFAULT_TILE

    # ------------------------------------------------------------------ public calls

    def denoise(
        self,
        pixels: np.ndarray,
        sigma: Sigma = None,
        *,
        tile: int | None = None,
        overlap: int | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """Denoise an H x W x C (or H x W) float32 image in 0..1; returns the same shape.

        ``sigma`` is the noise level on the 0-255 scale, a float or an H x W map; ``None``
        estimates it (ignored by a blind model). ``temperature`` > 0 draws a sample from a
        stochastic model (``seed`` makes it repeatable). Raises Cancelled via ``cancel``.
        """
        image, squeeze = _as_hwc(pixels)
        sig = self._sigma(image, sigma)
        if temperature and not self.model.stochastic:
            raise ValueError(f"model {self.model.name} has no temperature input")
        seed = seed if temperature else None
        c = image.shape[2]
        run = self._runner(self._seeded_session(seed), c, temperature)

        used: list[ort.InferenceSession] = []

        def side() -> list[TileFn]:
            used.extend(self._side_by_side(seed is not None))
            return [_single(self._runner(s, c, temperature)) for s in used]

        try:
            (out,) = self._tiled(image, sig, 1, _single(run), tile, overlap, progress, cancel,
                                 side)
        finally:
            self._release(used)
        return out[..., 0] if squeeze else out

    def sample(
        self,
        pixels: np.ndarray,
        sigma: Sigma,
        k: int,
        *,
        seed: int | None = None,
        tile: int | None = None,
        overlap: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``k`` samples at temperature 1 from a VAE; return per-pixel (mean, std).

        The std (over samples, ddof=1; zero for k=1) is the model's uncertainty map.
        Progress counts tile runs: ``k`` per tile.
        """
        if not self.model.stochastic:
            raise ModelError(
                f"Model {self.model.name} is not stochastic, so it cannot draw samples."
            )
        if k < 1:
            raise ValueError("k must be at least 1")
        image, squeeze = _as_hwc(pixels)
        sig = self._sigma(image, sigma)
        run = self._runner(self._seeded_session(seed), image.shape[2], 1.0)
        mean, std = self._tiled(image, sig, k, _moments(run, k), tile, overlap, progress, cancel)
        return (mean[..., 0], std[..., 0]) if squeeze else (mean, std)

    def denoise_region(
        self,
        pixels: np.ndarray,
        sigma: Sigma,
        box: tuple[int, int, int, int],
        margin: int | None = None,
        **kwargs,
    ) -> np.ndarray:
        """Denoise only ``box`` = (y0, x0, y1, x1) of the image, with ``margin`` px of context.

        Why: the GUI shows the area in view first. The context window starts on the model's
        multiple so its downsampling grid matches the whole-image pass. ``kwargs`` go to
        :meth:`denoise`. A noise level left as ``None`` is estimated on the whole image so
        that every region agrees.
        """
        image, squeeze = _as_hwc(pixels)
        y0, x0, y1, x1 = _clip_box(box, image.shape[:2])
        m = self.model.multiple
        margin = tiling.default_overlap(m) if margin is None else margin
        cy0, cx0 = max(0, (y0 - margin) // m * m), max(0, (x0 - margin) // m * m)
        cy1, cx1 = min(image.shape[0], y1 + margin), min(image.shape[1], x1 + margin)
        if sigma is None and not self.model.blind:
            sigma = self._estimate(image)
        if isinstance(sigma, np.ndarray) and sigma.ndim == 2:
            sigma = sigma[cy0:cy1, cx0:cx1]
        out = self.denoise(image[cy0:cy1, cx0:cx1], sigma, **kwargs)
        out = np.ascontiguousarray(out[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0])
        return out[..., 0] if squeeze else out

    # ------------------------------------------------------------------ internals

    def _estimate(self, image: np.ndarray) -> float:
        from denoiser.strength import auto_sigma

        return float(auto_sigma(image, noise_type=self.model.noise_type))

    def _sigma(self, image: np.ndarray, sigma: Sigma) -> float | np.ndarray | None:
        """The noise level as a float or an H x W map, still on the 0-255 scale."""
        if self.model.blind:
            return None
        if sigma is None:
            return self._estimate(image)
        if np.ndim(sigma) == 0:
            return float(sigma)
        sig = np.asarray(sigma, dtype=np.float32)
        if sig.shape != image.shape[:2]:
            raise ValueError(f"sigma map shape {sig.shape} != image shape {image.shape[:2]}")
        return sig

    def _runner(self, session: ort.InferenceSession, channels: int, temperature: float) -> TileRun:
        """A function running one tile through ``session``, adapting channels as needed."""
        feed_extra = {}
        if self.model.stochastic:
            feed_extra["temperature"] = np.array([temperature], dtype=np.float32)
        name = self.model.name

        def raw(x: np.ndarray, s: np.ndarray | None) -> np.ndarray:
            feed = {"noisy": x, **feed_extra}
            if s is not None:
                feed["sigma"] = s
            try:
                (y,) = session.run(["denoised"], feed)
            except Exception as e:  # an ORT failure here is the model's fault, say so plainly
                msg = str(e).strip().splitlines()[-1][:200]
                raise ModelError(f"Model {name} failed on a {x.shape[2]}x{x.shape[3]} "
                                 f"tile ({msg}).") from e
            if y.shape != x.shape:
                raise ModelError(f"Model {name} returned shape {list(y.shape)} "
                                 f"for input {list(x.shape)}.")
            return y

        return _adapt_channels(raw, channels, self.model.channels)

    def _tiled(
        self,
        image: np.ndarray,
        sigma: float | np.ndarray | None,
        runs_per_tile: int,
        tile_fn: TileFn,
        tile: int | None,
        overlap: int | None,
        progress: Progress | None,
        cancel: CancelToken | None,
        side_by_side: Callable[[], Sequence[TileFn]] | None = None,
    ) -> list[np.ndarray]:
        """Run ``tile_fn`` on every tile and blend its outputs into whole images; where
        ``side_by_side`` gives several functions (one per session, one network run per
        tile), a picture of several tiles runs on those instead, a tile at a time on each.

        Holds the input, the outputs, one weight map and a few tiles' buffers, nothing more.
        """
        h, w, c = image.shape
        m = self.model.multiple
        tile = tile or self.default_tile
        ov = tiling.auto_overlap(tile, m) if overlap is None else overlap
        tile, ov = tiling.fit_tile(tile, ov, m)
        tiles = tiling.layout(tiling.padded_size(h, m), tiling.padded_size(w, m), tile, ov, m)
        counter = _Ticker(len(tiles) * runs_per_tile, progress, cancel)
        check(cancel)
        if len(tiles) == 1:
            results = tile_fn(*_tile_inputs(image, sigma, tiles[0]), counter.tick)
            return [np.ascontiguousarray(_to_hwc(r)[:h, :w]) for r in results]
        fns = side_by_side() if side_by_side else []
        parallel = len(fns) > 1
        if parallel:
            assert runs_per_tile == 1, "side by side, progress counts one run per tile"
            done = _in_order(fns, lambda t: _tile_inputs(image, sigma, t), tiles)
        else:
            done = (tile_fn(*_tile_inputs(image, sigma, t), counter.tick) for t in tiles)
        outs: list[np.ndarray] = []
        weights = np.zeros((h, w), np.float32)
        scratch = np.empty((*tiles[0].shape, c), np.float32)  # every tile has this shape
        with contextlib.closing(done):
            for t, results in zip(tiles, done, strict=True):
                if parallel:
                    counter.tick()
                if not outs:
                    outs = [np.zeros((h, w, c), np.float32) for _ in results]
                tw = tiling.tile_weight(t, ov)
                for out, r in zip(outs, results, strict=True):
                    tiling.accumulate(out, r[0], t, tw, scratch)
                tiling.add_weight(weights, t, tw)
        return [tiling.normalise(out, weights) for out in outs]


def _in_order(
    fns: Sequence[TileFn],
    inputs: Callable[[tiling.Tile], tuple[np.ndarray, np.ndarray | None]],
    tiles: Sequence[tiling.Tile],
) -> Iterator[Sequence[np.ndarray]]:
    """Each tile's outputs in order, with a tile in flight on each of ``fns`` at once.

    Each fn owns one session and runs one tile at a time. At most one result more than
    there are fns waits for the caller, so memory stays bounded by a few tiles; closing
    the generator (the caller cancelled) drops the tiles not started and waits for the rest.
    """
    free: queue.SimpleQueue[TileFn] = queue.SimpleQueue()
    for fn in fns:
        free.put(fn)

    def job(t: tiling.Tile) -> Sequence[np.ndarray]:
        fn = free.get()
        try:
            return fn(*inputs(t), _no_tick)
        finally:
            free.put(fn)

    todo = iter(tiles)
    with ThreadPoolExecutor(len(fns), thread_name_prefix="tile") as pool:
        pending = deque(pool.submit(job, t) for t in itertools.islice(todo, len(fns) + 1))
        try:
            while pending:
                result = pending.popleft().result()
                t = next(todo, None)
                if t is not None:
                    pending.append(pool.submit(job, t))
                yield result
        finally:
            for f in pending:
                f.cancel()


def _no_tick() -> None:
    """Side by side, the caller's thread counts tiles as it takes them."""


class _Ticker:
    """Counts tile runs, reports progress and checks for cancellation after each."""

    def __init__(self, total: int, progress: Progress | None, cancel: CancelToken | None):
        self.done, self.total, self.progress, self.cancel = 0, total, progress, cancel

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)
        if self.done < self.total:
            check(self.cancel)


def _single(run: TileRun):
    def fn(x, s, tick):
        y = run(x, s)
        tick()
        return [y]

    return fn


def _moments(run: TileRun, k: int):
    """Tile function drawing ``k`` samples and returning their mean and std (Welford)."""

    def fn(x, s, tick):
        mean = np.zeros_like(x)
        m2 = np.zeros_like(x)
        for i in range(1, k + 1):
            y = run(x, s)
            delta = y - mean
            mean += delta / np.float32(i)
            m2 += delta * (y - mean)
            tick()
        return [mean, np.sqrt(m2 / np.float32(max(k - 1, 1)))]

    return fn


def _adapt_channels(raw: TileRun, image_c: int, model_c: int) -> TileRun:
    """Grey image + colour model: replicate, then average back. Colour + grey: batch of 3."""
    if image_c == model_c:
        return raw
    if image_c == 1:
        return lambda x, s: raw(np.repeat(x, 3, axis=1), s).mean(axis=1, keepdims=True)

    def colour_on_grey(x: np.ndarray, s: np.ndarray | None) -> np.ndarray:
        n, c, h, w = x.shape
        s3 = None if s is None else np.repeat(s, c, axis=0)
        return raw(x.reshape(n * c, 1, h, w), s3).reshape(n, c, h, w)

    return colour_on_grey


def _tile_inputs(image: np.ndarray, sigma, t: tiling.Tile) -> tuple[np.ndarray, np.ndarray | None]:
    """NCHW float32 buffers (noisy, sigma in 0..1 units) for one tile."""
    x = np.ascontiguousarray(tiling.crop_padded(image, t).transpose(2, 0, 1)[None])
    if sigma is None:
        return x, None
    th, tw = t.shape
    if isinstance(sigma, np.ndarray):
        s = tiling.crop_padded(sigma, t)[None, None] / np.float32(255.0)
        return x, np.ascontiguousarray(s, dtype=np.float32)
    return x, np.full((1, 1, th, tw), sigma / 255.0, dtype=np.float32)


def _to_hwc(y: np.ndarray) -> np.ndarray:
    return y[0].transpose(1, 2, 0)


def _as_hwc(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """View ``pixels`` as H x W x C float32 (copying only if the dtype differs)."""
    a = np.asarray(pixels, dtype=np.float32)
    if a.ndim == 2:
        return a[..., None], True
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"expected an H x W x 1 or H x W x 3 image, got shape {a.shape}")
    return a, False


def _clip_box(box: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    y0, x0, y1, x1 = (int(v) for v in box)
    y0, x0 = max(0, y0), max(0, x0)
    y1, x1 = min(shape[0], y1), min(shape[1], x1)
    if y1 <= y0 or x1 <= x0:
        raise ValueError(f"box {box} is empty inside a {shape[0]}x{shape[1]} image")
    return y0, x0, y1, x1


# ---------------------------------------------------------------------- session cache

_engines: OrderedDict[tuple, Engine] = OrderedDict()
_engines_lock = threading.Lock()
CACHE_SIZE = 4


def get_engine(model: ModelInfo, device: str = "auto", threads: int | None = None) -> Engine:
    """A shared Engine for (model file, its mtime, device, threads); starts one if needed.

    Why: starting a session costs a second or more; the GUI asks for the same one often.
    A changed file (new mtime) gets a new session. The few most recent are kept.
    """
    threads = threads or os.cpu_count() or 1
    try:
        mtime = os.stat(model.path).st_mtime_ns
    except OSError as e:
        raise ModelError(f"Model file {model.path} cannot be read.") from e
    key = (str(model.path.resolve()), mtime, device, threads)
    with _engines_lock:
        if key in _engines:
            _engines.move_to_end(key)
            return _engines[key]
    engine = Engine(model, device, threads)
    with _engines_lock:
        _engines[key] = engine
        while len(_engines) > CACHE_SIZE:
            _engines.popitem(last=False)
    return engine


def clear_engine_cache() -> None:
    """Drop all cached sessions (frees their memory)."""
    with _engines_lock:
        _engines.clear()
