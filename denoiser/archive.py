"""``denoiser batch``: denoise an archive with a pool of Ray actors (Ray Data ``map_batches``).

Why Ray: one machine's cores, or a cluster's, work through a large archive while this process
only plans and reports. Why actors: an onnxruntime session takes a second or more to start, so
each actor starts one engine (``denoiser.engine``) and keeps it for every image it is given.

The work per image is ``denoiser.batch.denoise_file``, as in ``denoiser denoise``: the same
output names, metadata and atomic writes. The plan is made here before anything starts;
outputs already present are left alone, so running the same command again after an
interruption resumes where it stopped. Ray is imported only when ``batch`` runs, so the
rest of the app never needs it (``pip install "denoiser-studio[archive]"`` brings it).

Paths are sent to the actors as absolute paths: on a cluster every node must see the inputs,
the outputs and a ``--model`` file at the same place (a shared file system), and have
denoiser-studio installed.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from denoiser import batch, cli
from denoiser.errors import DenoiserError, ModelError

INSTALL_HINT = 'pip install "denoiser-studio[archive]"'
MAX_BLOCKS = 10_000  # one image per Ray Data block up to here: finer progress, fairer sharing
FIELDS = ("i", "status", "message", "model", "sigma", "seconds", "uncertainty")

BATCH_EXIT_HELP = """exit status:
  0    every image is denoised (now, or by an earlier run: present outputs are kept)
  1    some images were not (unreadable, or their output could not be written)
  2    usage error: bad arguments, unknown model, Ray not installed, too few CPUs or GPUs
  3    the model could not be loaded or run
  130  interrupted (Ctrl-C); finished outputs are kept, nothing is half-written
"""


class RayMissing(cli.UsageError):
    """``batch`` was asked for but Ray is not installed (exit 2, with the install command)."""


class RayStartError(DenoiserError):
    """A local Ray instance did not start (exit 1), e.g. on a machine too busy for it."""


# ----------------------------------------------------------------------------- parser


def add_subparser(sub: Any) -> None:
    """Add ``batch`` to the CLI's subparsers; its options beyond ``denoise``'s choose Ray's pool."""
    p = sub.add_parser(
        "batch",
        help="denoise a large archive with a pool of Ray actors (local or a cluster)",
        description="Denoise every image in folders (with their subfolders) or in list files, "
        "on a pool of Ray actors each holding one model session. Outputs are named as by "
        "`denoiser denoise`; outputs already present are kept, so running the same command "
        "again resumes an interrupted run. Needs " + INSTALL_HINT + ".",
        epilog=BATCH_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or folders")
    p.add_argument(
        "--list",
        dest="lists",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a text file naming one image or folder a line (blank "
        "lines and # comments skipped; relative paths are relative to the file's "
        "folder and keep their subfolders below --out-dir); repeatable",
    )
    p.add_argument(
        "--out-dir",
        metavar="DIR",
        help="write results here, keeping the folder structure of folder inputs",
    )
    cli.add_image_options(p, threads_help="CPU threads per actor (default 1)")
    p.set_defaults(threads=1)
    p.add_argument(
        "--actors",
        type=cli._positive,
        default=None,
        metavar="N",
        help="actors, each with one session (default: as many as the CPUs (or, "
        "with --device cuda, the GPUs) allow)",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        default=None,
        help="the Ray cluster this machine joined with `ray start`: 'auto', or the head's "
        "HOST:6379 (default: a local Ray instance)",
    )


# ----------------------------------------------------------------------------- planning


def read_list(path: Path) -> list[Path]:
    """The paths a list file names, one a line; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise cli.UsageError(f"Cannot read the list {path} ({cli._reason(e).rstrip('.')}).") from e
    lines = (line.strip() for line in text.splitlines())
    return [Path(line) for line in lines if line and not line.startswith("#")]


def _keeps_structure(entry: Path) -> bool:
    """A relative entry that stays inside the list's folder keeps its path below --out-dir."""
    return not entry.is_absolute() and ".." not in entry.parts


def _list_plan(list_file: Path, args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """(source, destination) pairs for one list file, each entry planned as an INPUT would be."""
    out = Path(args.out_dir) if args.out_dir else None
    plan: list[tuple[Path, Path]] = []
    for entry in read_list(list_file):
        src = list_file.parent / entry
        folder = out
        if out is not None and _keeps_structure(entry):
            folder = out / (entry if src.is_dir() else entry.parent)
        plan += batch.plan_outputs([src], folder, args.suffix, args.fmt)
    return plan


def plan(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """Every (source, destination) pair of the INPUTs and list files, each source once."""
    pairs = batch.plan_outputs(args.inputs, args.out_dir, args.suffix, args.fmt)
    for list_file in args.lists:
        pairs += _list_plan(list_file, args)
    seen: set[Path] = set()
    unique = []
    for src, dst in pairs:
        if src.resolve() not in seen:
            seen.add(src.resolve())
            unique.append((src, dst))
    return unique


def already_done(src: Path, dst: Path, args: argparse.Namespace) -> bool:
    """True when an earlier run wrote this image's outputs (and --overwrite was not given)."""
    if args.overwrite or not dst.exists():
        return False
    return not args.uncertainty or batch.uncertainty_path(src, dst).exists()


# ----------------------------------------------------------------------------- the actor


def _options(args: argparse.Namespace) -> argparse.Namespace:
    """What an actor needs, with a --model file made absolute (an actor's folder differs)."""
    model = args.model
    if model and Path(model).is_file():
        model = os.path.abspath(model)
    keys = ("device", "threads", "samples", "sigma", "tile", "uncertainty", "overwrite", "seed")
    return argparse.Namespace(model=model, **{k: getattr(args, k) for k in keys})


def _row(i: int, status: str, message: str = "", result: batch.FileResult | None = None) -> dict:
    sigma = math.nan if result is None or result.sigma is None else result.sigma
    return {
        "i": i,
        "status": status,
        "message": message,
        "model": result.model if result else "",
        "sigma": sigma,
        "seconds": result.seconds if result else 0.0,
        "uncertainty": str(result.uncertainty or "") if result else "",
    }


def denoise_row(
    engines: batch.EngineSource, options: argparse.Namespace, i: int, src: Path, dst: Path
) -> dict:
    """Denoise one image; its outcome as a row: done, skipped, failed, or model (stop all).

    The same outcomes as ``denoiser denoise`` gives each file, told back instead of printed.
    """
    try:
        result = batch.denoise_file(
            engines,
            src,
            dst,
            options.sigma,
            tile=options.tile,
            samples=options.samples,
            uncertainty=options.uncertainty,
            overwrite=options.overwrite,
            seed=options.seed,
        )
    except batch.OutputExists as e:
        return _row(i, "skipped", str(e))
    except ModelError as e:
        return _row(i, "model", str(e))
    except (DenoiserError, OSError, MemoryError) as e:
        return _row(i, "failed", cli._reason(e))
    return _row(i, "done", result=result)


class Denoiser:
    """A Ray Data actor: one engine for its lifetime, used for every image it is given.

    A model that cannot load is told back with each row rather than raised: Ray would
    restart the actor again and again, while the driver should stop with exit status 3.
    """

    def __init__(self, options: argparse.Namespace):
        cli._setup_logging()  # a CUDA fallback reaches the driver's terminal as "warning: ..."
        self.options = options
        self.error: str | None = None
        try:
            self.engines = cli._engine_source(options)
        except ModelError as e:
            self.error = str(e)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = []
        for i, src, dst in zip(rows["i"], rows["src"], rows["dst"]):
            if self.error is not None:
                out.append(_row(int(i), "model", self.error))
            else:
                out.append(denoise_row(self.engines, self.options, int(i), Path(src), Path(dst)))
        return {k: np.array([r[k] for r in out]) for k in FIELDS}


# ----------------------------------------------------------------------------- Ray


def import_ray():
    """The ray module, or RayMissing with the command that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401  (ray without the [data] extra lacks pandas/pyarrow)
    except ImportError as e:
        raise RayMissing(
            f"`denoiser batch` needs Ray Data, which is not installed "
            f"({e}); install it with: {INSTALL_HINT}"
        ) from e
    return ray


def check_address(address: str | None) -> None:
    """Refuse a Ray Client address (ray://): Ray Data's executor needs a driver on a node."""
    if address and address.startswith("ray://"):
        raise cli.UsageError(
            "Ray Data does not run through Ray Client (ray://); run `denoiser batch` on a "
            "machine of the cluster (one that ran `ray start`) with --address auto."
        )


def connect(ray, address: str | None, cpus: int) -> bool:
    """Join the cluster at ``address``, or start a local instance with ``cpus`` CPUs.

    Returns True when this call started Ray (and so should shut it down). An instance this
    process already runs (e.g. a test's) is used as it is.
    """
    if ray.is_initialized():
        return False
    if address is None:
        try:
            ray.init(
                address="local",
                num_cpus=cpus,
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
        except Exception as e:  # Ray raises plain Exception, e.g. when its start-up times out
            raise RayStartError(f"Ray could not start here ({_first_line(e)}).") from e
    else:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise cli.UsageError(
                f"Cannot connect to the Ray cluster at {address} ({_first_line(e)})."
            ) from e
    return True


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0].rstrip(".")


def _quiet_ray_data(ray) -> None:
    """Our own progress lines replace Ray Data's bars and its per-run notes."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


def actor_resources(
    device: str, actors: int | None, threads: int, cluster: dict[str, float]
) -> tuple[int, int]:
    """(actors, GPUs each) for ``device`` on a cluster with ``cluster`` resources.

    ``cuda`` gives each actor a GPU; ``auto`` does when there is one for each actor. A pool
    the cluster cannot hold is a usage error: Ray would otherwise wait for it forever.
    """
    cpus, gpus = int(cluster.get("CPU", 0)), int(cluster.get("GPU", 0))
    if device == "cuda" and gpus == 0:
        raise cli.UsageError("--device cuda: this Ray cluster has no GPU.")
    if actors is None:
        by_cpu = max(1, cpus // threads)
        actors = min(by_cpu, gpus) if device == "cuda" else by_cpu
    gpu_each = int(device == "cuda" or (device == "auto" and 0 < actors <= gpus))
    if actors * threads > cpus:
        raise cli.UsageError(
            f"{actors} actors x {threads} threads need {actors * threads} "
            f"CPUs; this Ray cluster has {cpus}."
        )
    if actors * gpu_each > gpus:
        raise cli.UsageError(f"{actors} actors need {actors} GPUs; this Ray cluster has {gpus}.")
    return actors, gpu_each


def run_pool(
    ray, todo: list[tuple[int, Path, Path]], options: argparse.Namespace, actors: int, gpus: int
) -> Iterator[dict[str, Any]]:
    """Rows of results in the order they finish, from ``actors`` actors sharing ``todo``."""
    _quiet_ray_data(ray)
    items = [{"i": i, "src": os.path.abspath(s), "dst": os.path.abspath(d)} for i, s, d in todo]
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS))
    ds = ds.map_batches(
        Denoiser,
        fn_constructor_args=(options,),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.threads,
        num_gpus=gpus,
    )
    return ds.iter_rows()


# ----------------------------------------------------------------------------- reporting


def _report(
    args: argparse.Namespace, row: dict[str, Any], src: Path, dst: Path, tally: cli.Tally
) -> None:
    """Count one finished row and say it as ``denoiser denoise`` would (a model error raises)."""
    status, message = str(row["status"]), str(row["message"])
    if status == "model":
        raise ModelError(message)
    if status == "skipped":
        tally.skipped.append(str(src))
        print(f"skipped {src}: {message}", file=sys.stderr)
    elif status == "failed":
        tally.failed.append(str(src))
        print(f"{src}: {message}", file=sys.stderr)
    else:
        tally.done += 1
        sigma = None if math.isnan(row["sigma"]) else float(row["sigma"])
        unc = Path(row["uncertainty"]) if row["uncertainty"] else None
        cli._report_done(
            args, batch.FileResult(src, dst, str(row["model"]), sigma, float(row["seconds"]), unc)
        )


def _consume(
    args: argparse.Namespace,
    rows: Iterable[dict[str, Any]],
    plan_: list[tuple[Path, Path]],
    tally: cli.Tally,
    bar: cli.ProgressBar,
) -> None:
    """Report rows as they arrive, with a bar on a terminal; stops at a model error."""
    seen = len(tally.failed)
    for row in rows:
        src, dst = plan_[int(row["i"])]
        bar.clear()
        _report(args, row, src, dst, tally)
        seen += 1
        bar(seen, tally.total)


def _split(
    args: argparse.Namespace, plan_: list[tuple[Path, Path]], tally: cli.Tally
) -> tuple[list[tuple[int, Path, Path]], int]:
    """(the work to do, how many are already done); clashing outputs are counted as failed."""
    clash = batch.collisions(plan_)
    todo, done = [], 0
    for i, (src, dst) in enumerate(plan_):
        if src in clash:
            tally.failed.append(str(src))
            print(f"{src}: its output {dst} would replace that of {clash[src]}.", file=sys.stderr)
        elif already_done(src, dst, args):
            done += 1
        else:
            todo.append((i, src, dst))
    return todo, done


def _check_model(args: argparse.Namespace) -> None:
    """Load a --model here first (CPU, one thread): an unknown or broken one stops before Ray."""
    if args.model:
        probe = argparse.Namespace(**{**vars(_options(args)), "device": "cpu", "threads": 1})
        cli._engine_source(probe)


# ----------------------------------------------------------------------------- command


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def cmd_batch(args: argparse.Namespace) -> int:
    """Plan, skip what is done, denoise the rest on Ray, report like ``denoiser denoise``."""
    cli._check_args(args)
    if not args.inputs and not args.lists:
        raise cli.UsageError("give at least one INPUT or --list FILE.")
    check_address(args.address)
    ray = import_ray()
    plan_ = plan(args)
    if not plan_:
        print("No supported images found in the given inputs.", file=sys.stderr)
        return cli.EXIT_FAILED
    _check_model(args)
    tally = cli.Tally(total=len(plan_))
    todo, done = _split(args, plan_, tally)
    tally.total -= done
    if done:
        cli._say(args, f"{_count(done, 'image')} of {len(plan_)} already had an output: kept")
    if not todo and not tally.failed:
        cli._say(args, "Nothing left to do.")
        return cli.EXIT_OK
    if not todo:
        return cli._finish(args, tally)
    return _run(args, ray, todo, plan_, tally)


def _run(
    args: argparse.Namespace,
    ray,
    todo: list[tuple[int, Path, Path]],
    plan_: list[tuple[Path, Path]],
    tally: cli.Tally,
) -> int:
    """Start or join Ray, run the pool, report; Ray is shut down again if it was started here."""
    wanted = args.actors or max(1, (os.cpu_count() or 1) // args.threads)
    started = connect(ray, args.address, max(os.cpu_count() or 1, wanted * args.threads))
    bar = cli.ProgressBar(sys.stderr, enabled=not args.quiet)
    bar.start(f"denoiser batch: {len(todo)} images")
    start = time.perf_counter()
    try:
        actors, gpus = actor_resources(
            args.device, args.actors, args.threads, ray.cluster_resources()
        )
        actors = min(actors, len(todo))  # an idle actor would only hold a session
        each = f"{_count(args.threads, 'thread')}{' and a GPU' if gpus else ''} each"
        cli._say(args, f"{_count(len(todo), 'image')} on {_count(actors, 'actor')} ({each})")
        _consume(args, run_pool(ray, todo, _options(args), actors, gpus), plan_, tally, bar)
    except KeyboardInterrupt:
        bar.clear()
        print(f"\ninterrupted: {tally.line()}", file=sys.stderr)
        return cli.EXIT_INTERRUPTED
    except ModelError as e:
        bar.clear()
        print(f"{e}\n{tally.line()}", file=sys.stderr)
        return cli.EXIT_MODEL
    finally:
        if started:
            ray.shutdown()
    bar.clear()
    seconds = time.perf_counter() - start
    rate = f"{tally.done / seconds:.2f} images/s"
    cli._say(args, f"{_count(tally.done, 'image')} in {seconds:.1f} s ({rate}, start-up included)")
    return cli._finish(args, tally)
