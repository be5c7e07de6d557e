"""``denoiser batch`` on a local 2-CPU Ray instance, against ``denoiser denoise`` on the same files.

Why one Ray instance for the module: starting Ray takes seconds, and ``denoiser batch`` uses
an instance that is already running (leaving it running) rather than starting its own.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from denoiser import archive, cli
from denoiser.imageio import read_image

N_GOOD = 30
# Ray Data's own context warns about its deprecated settings whenever it is copied to workers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture
def cmd(capsys):
    """``denoiser ARGV`` in this process -> (exit status, stdout, stderr); never a traceback."""

    def call(*argv) -> tuple[int, str, str]:
        status = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return status, captured.out, captured.err

    return call


@pytest.fixture
def photos(tmp_path) -> Path:
    """30 noisy 48 x 64 pictures in three folder levels, and one truncated PNG."""
    rng = np.random.default_rng(7)
    root = tmp_path / "archive"
    for i in range(N_GOOD):
        folder = root / ("", "day1", "day1/deep")[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        y, x = np.mgrid[0:48, 0:64] / 64.0
        clean = np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, np.full_like(x, 0.1 + i / 40)], -1)
        noisy = np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1)
        Image.fromarray((noisy * 255).round().astype(np.uint8)).save(folder / f"p{i:02d}.png")
    good = (root / "p00.png").read_bytes()
    (root / "day1" / "corrupt.png").write_bytes(good[: len(good) // 3])
    return root


def _outputs(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*.png"))


def test_batch_matches_cli_reports_corrupt_file_and_resumes(
    ray_session, cmd, tmp_path, photos, color_model
):
    out, ref = tmp_path / "out", tmp_path / "ref"
    corrupt = photos / "day1" / "corrupt.png"
    code, stdout, err = cmd(
        "batch", photos, "--out-dir", out, "--model", color_model, "--actors", "2"
    )
    assert code == 1
    assert (
        "on 2 actors" in stdout and f"{N_GOOD} of {N_GOOD + 1} images denoised (1 failed)" in stdout
    )
    assert sum(line.startswith(f"{corrupt}: ") for line in err.splitlines()) == 1

    assert cmd("denoise", photos, "--out-dir", ref, "--model", color_model)[0] == 1
    names = _outputs(out)
    assert len(names) == N_GOOD and names == _outputs(ref)
    assert Path("day1/deep/p02_denoised.png") in names  # subfolders kept
    for rel in names:
        ours, theirs = read_image(out / rel).pixels, read_image(ref / rel).pixels
        assert ours.shape == theirs.shape == (48, 64, 3)
        assert np.abs(ours - theirs).max() <= 1e-3, rel

    removed = names[:3]
    for rel in removed:
        (out / rel).unlink()
    kept = {rel: (out / rel).stat().st_mtime_ns for rel in names[3:]}
    code, stdout, err = cmd("batch", photos, "--out-dir", out, "--model", color_model)
    assert code == 1 and f"{N_GOOD - 3} images of {N_GOOD + 1} already had an output" in stdout
    redone = sorted(
        Path(line.split(" -> ")[1].split(" (")[0]) for line in stdout.splitlines() if " -> " in line
    )
    assert redone == [out / rel for rel in removed]
    assert {rel: (out / rel).stat().st_mtime_ns for rel in names[3:]} == kept
    assert f"{corrupt}: " in err and "3 of 4 images denoised (1 failed)" in stdout

    corrupt.unlink()  # with nothing left, Ray is not even asked
    code, stdout, _ = cmd("batch", photos, "--out-dir", out, "--model", color_model)
    assert code == 0 and "Nothing left to do." in stdout


def test_model_failing_in_the_actors_exit_3(ray_session, cmd, tmp_path, photos, build):
    shrinking = build.shrinking(tmp_path / "s.onnx")
    code, _, err = cmd(
        "batch",
        photos / "day1" / "deep",
        "--out-dir",
        tmp_path / "o",
        "--model",
        shrinking,
        "--sigma",
        "10",
        "--actors",
        "1",
    )
    assert code == 3 and "returned shape" in err
    assert not list((tmp_path / "o").rglob("*.png"))


def test_broken_model_stops_before_ray_starts(cmd, tmp_path, photos):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01garbage")
    code, _, err = cmd("batch", photos, "--model", junk, "--address", "nowhere:1")
    assert code == 3 and "not a valid ONNX model" in err


def test_list_file_keeps_relative_folders(tmp_path, photos):
    listing = photos / "todo.txt"
    listing.write_text(
        f"# tonight\n\np00.png\nday1/deep/p05.png\n\n{photos / 'day1' / 'p01.png'}\nday1/deep\n",
        encoding="utf-8",
    )
    args = cli.build_parser().parse_args(["batch", "--list", str(listing), "--out-dir", "out"])
    pairs = {src.relative_to(photos): dst for src, dst in archive.plan(args)}
    deep = sorted(p.relative_to(photos) for p in (photos / "day1" / "deep").glob("*.png"))
    assert set(pairs) == {Path("p00.png"), Path("day1/p01.png"), *deep}  # p05 only once
    assert pairs[Path("p00.png")] == Path("out/p00_denoised.png")
    assert pairs[Path("day1/deep/p05.png")] == Path("out/day1/deep/p05_denoised.png")
    assert pairs[Path("day1/p01.png")] == Path("out/p01_denoised.png")  # absolute: flat
    assert {pairs[rel].parent for rel in deep} == {Path("out/day1/deep")}


def test_unreadable_list_and_no_inputs_are_usage_errors(cmd, tmp_path):
    assert cmd("batch")[0] == 2
    code, _, err = cmd("batch", "--list", tmp_path / "missing.txt")
    assert code == 2 and "Cannot read the list" in err


def test_ray_client_address_is_refused_with_what_to_do(cmd, photos):
    code, _, err = cmd("batch", photos, "--address", "ray://head:10001")
    assert code == 2 and "Ray Client" in err and "--address auto" in err


def test_without_ray_says_how_to_install_it(cmd, monkeypatch, photos):
    monkeypatch.setitem(sys.modules, "ray", None)
    code, _, err = cmd("batch", photos)
    assert code == 2 and 'pip install "denoiser-studio[archive]"' in err


@pytest.mark.parametrize(
    "device, actors, cluster, expected",
    [
        ("cpu", None, {"CPU": 8, "GPU": 2}, (8, 0)),
        ("auto", None, {"CPU": 8}, (8, 0)),
        ("auto", 2, {"CPU": 8, "GPU": 2}, (2, 1)),
        ("auto", 4, {"CPU": 8, "GPU": 2}, (4, 0)),
        ("cuda", None, {"CPU": 8, "GPU": 2}, (2, 1)),
    ],
)
def test_actor_resources(device, actors, cluster, expected):
    assert archive.actor_resources(device, actors, 1, cluster) == expected


@pytest.mark.parametrize(
    "device, actors, threads, cluster, words",
    [
        ("cuda", None, 1, {"CPU": 8}, "no GPU"),
        ("cuda", 3, 1, {"CPU": 8, "GPU": 2}, "need 3 GPUs"),
        ("cpu", 3, 4, {"CPU": 8}, "need 12 CPUs"),
    ],
)
def test_a_pool_the_cluster_cannot_hold_is_refused(device, actors, threads, cluster, words):
    with pytest.raises(cli.UsageError, match=words):
        archive.actor_resources(device, actors, threads, cluster)


def test_the_rest_of_the_app_never_imports_ray():
    code = (
        "import json, sys\nfrom denoiser import archive, cli\ncli.build_parser()\n"
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] == 'ray']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
