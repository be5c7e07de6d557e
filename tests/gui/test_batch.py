"""Batch queue: folders with subfolders, a corrupt file, cancelling mid-batch."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from guihelpers import LONG, drop_urls, noisy_array, pick_model, queue, write_photo
from PIL import Image

from denoiser.gui import backend, batch_plan

pytestmark = pytest.mark.usefixtures("installed_models")


def make_folder(root: Path, corrupt: bool = True) -> list[Path]:
    files = [
        write_photo(root / "a.png", 40, 48, seed=1),
        write_photo(root / "b.png", 41, 48, seed=2),
        write_photo(root / "sub" / "c.png", 40, 40, seed=3),
        write_photo(root / "sub" / "deeper" / "d.png", 32, 48, seed=4),
    ]
    if corrupt:
        bad = root / "sub" / "broken.png"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 definitely not an image")
        files.append(bad)
    return files


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_batch_of_five_with_one_corrupt(qtbot, window, tmp_path):
    src = tmp_path / "photos"
    make_folder(src)
    out = tmp_path / "out"
    panel = window.batch
    with qtbot.waitSignal(panel.queued, timeout=LONG):
        drop_urls(window, [src])
    assert len(panel.rows) == 5
    panel.out_dir.setText(str(out))
    with qtbot.waitSignal(panel.batchFinished, timeout=LONG) as sig:
        panel.start_btn.click()
    assert sig.args[0] == {"done": 4, "error": 1, "cancelled": 0}
    assert all_files(out) == sorted([
        out / "a_denoised.png", out / "b_denoised.png", out / "sub" / "c_denoised.png",
        out / "sub" / "deeper" / "d_denoised.png",
    ])
    broken = next(i for i, r in enumerate(panel.rows) if r.source.path.name == "broken.png")
    assert panel.status_of(broken) == "error"
    assert panel.table.item(broken, 1).text().startswith("Failed")
    assert "4 done, 1 failed" in panel.summary.text()


def test_batch_jpeg_output_and_pattern(qtbot, window, tmp_path):
    src = tmp_path / "photos"
    make_folder(src, corrupt=False)
    out = tmp_path / "out"
    panel = window.batch
    queue(qtbot, panel, [src])
    panel.out_dir.setText(str(out))
    panel.pattern.setText("{stem}-{model}")
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("jpeg"))
    with qtbot.waitSignal(panel.batchFinished, timeout=LONG):
        panel.start()
    names = sorted(p.name for p in all_files(out))
    assert names == ["a-ae-color.jpg", "b-ae-color.jpg", "c-ae-color.jpg", "d-ae-color.jpg"]


def test_mixed_batch_gives_each_file_the_model_for_its_channels_until_one_is_picked(
        qtbot, window, tmp_path):
    """As the CLI does: a grey scan goes through the grey model and a colour photo through
    the colour one, in name and in fact (the note saved with each result says which)."""
    src = tmp_path / "mixed"
    write_photo(src / "colour.png", 40, 48, seed=1)
    Image.fromarray(noisy_array(40, 48, seed=2, channels=1)[..., 0]).save(src / "grey.png")
    panel = window.batch
    panel.pattern.setText("{stem}-{model}")

    def run(out: Path) -> dict[str, str]:
        panel.clear_finished()
        queue(qtbot, panel, [src])
        panel.out_dir.setText(str(out))
        with qtbot.waitSignal(panel.batchFinished, timeout=LONG):
            panel.start()
        return {p.name: backend.read_image(p).text["Denoiser model"] for p in all_files(out)}

    assert run(tmp_path / "auto") == {"colour-ae-color.png": "ae-color",
                                      "grey-ae-gray.png": "ae-gray"}
    shown = {panel.table.item(i, 0).text(): panel.table.item(i, 1).text()
             for i in range(len(panel.rows))}
    assert shown == {"colour.png": "Done (ae-color)", "grey.png": "Done (ae-gray)"}
    pick_model(window.controls.model_picker, "ae-color")
    assert run(tmp_path / "picked") == {"colour-ae-color.png": "ae-color",
                                        "grey-ae-color.png": "ae-color"}


def test_batch_reads_headers_off_the_gui_thread(qtbot, window, tmp_path, monkeypatch):
    """Choosing each file's model reads its header: on a long queue or a network folder
    that would freeze the window, so the plan is made in the batch's worker."""
    src = tmp_path / "photos"
    make_folder(src, corrupt=False)
    readers = []
    real = backend.read_channels

    def spy(path):
        readers.append(threading.current_thread())
        return real(path)

    monkeypatch.setattr(backend, "read_channels", spy)
    panel = window.batch
    queue(qtbot, panel, [src])
    panel.out_dir.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(panel.batchFinished, timeout=LONG) as sig:
        panel.start()
    assert sig.args[0]["done"] == 4 and len(readers) == 4
    assert threading.main_thread() not in readers
    assert all(r.output is not None and r.output.exists() for r in panel.rows)


def test_batch_never_overwrites_without_permission(qtbot, window, tmp_path):
    photo = write_photo(tmp_path / "x.png", 32, 32)
    existing = tmp_path / "x_denoised.png"
    existing.write_bytes(b"keep me")
    panel = window.batch
    queue(qtbot, panel, [photo])
    with qtbot.waitSignal(panel.batchFinished, timeout=LONG) as sig:
        panel.start()
    assert sig.args[0]["error"] == 1
    assert existing.read_bytes() == b"keep me"
    # a pattern that would write onto the input is refused before any work
    panel2_rows = len(panel.rows)
    queue(qtbot, panel, [write_photo(tmp_path / "y.png", 32, 32)])
    panel.pattern.setText("{stem}")
    panel.start()
    qtbot.waitUntil(lambda: panel.job is None, timeout=LONG)
    assert "overwrite the original" in panel.summary.text()
    assert len(panel.rows) == panel2_rows + 1
    assert panel.status_of(panel2_rows) == "queued" and panel.start_btn.isEnabled()


def test_cancel_mid_batch_keeps_finished_outputs_and_no_partial_file(
        qtbot, window, tmp_path, monkeypatch):
    src = tmp_path / "photos"
    make_folder(src, corrupt=False)
    out = tmp_path / "out"
    started = threading.Event()
    real = backend.denoise

    def slow_on_b(engine, pixels, sigma, *, tile=512, progress=None, cancel=None):
        if pixels.shape[0] == 41:  # b.png: a long image, still running when cancelled
            started.set()
            while True:
                progress(0.5)  # raises Cancelled once "Cancel all" is pressed
                threading.Event().wait(0.01)
        return real(engine, pixels, sigma, tile=tile, progress=progress, cancel=cancel)

    monkeypatch.setattr(backend, "denoise", slow_on_b)
    panel = window.batch
    queue(qtbot, panel, [src])
    panel.out_dir.setText(str(out))
    panel.start()
    qtbot.waitUntil(started.is_set, timeout=LONG)
    with qtbot.waitSignal(panel.batchFinished, timeout=LONG) as sig:
        panel.cancel_all_btn.click()
    assert sig.args[0] == {"done": 1, "error": 0, "cancelled": 3}
    assert all_files(out) == [out / "a_denoised.png"]  # finished output kept, nothing partial
    assert [r.status for r in panel.rows] == ["done", "cancelled", "cancelled", "cancelled"]


def test_cancel_one_row_lets_the_rest_go_on(qtbot, window, tmp_path):
    src = tmp_path / "photos"
    make_folder(src, corrupt=False)
    out = tmp_path / "out"
    panel = window.batch
    queue(qtbot, panel, [src])
    panel.out_dir.setText(str(out))
    panel.cancel_row(1)  # before starting: the row is simply left out
    with qtbot.waitSignal(panel.batchFinished, timeout=LONG) as sig:
        panel.start()
    assert sig.args[0] == {"done": 3, "error": 0, "cancelled": 0}
    assert panel.status_of(1) == "cancelled"
    assert not (out / "b_denoised.png").exists()


def test_running_twice_on_a_folder_does_not_chain(qtbot, window, tmp_path):
    src = tmp_path / "photos"
    write_photo(src / "a.png", 32, 32)
    write_photo(src / "a_denoised.png", 32, 32)  # a result of an earlier run
    queue(qtbot, window.batch, [src])
    assert [r.source.path.name for r in window.batch.rows] == ["a.png"]


def test_folders_are_walked_off_the_gui_thread_and_the_walk_can_be_stopped(
        qtbot, window, tmp_path, monkeypatch):
    """A dropped network share can take minutes to walk: the window must not freeze, and
    Cancel all stops the walk."""
    src = tmp_path / "share"
    make_folder(src, corrupt=False)
    walkers, release = [], threading.Event()
    real = os.walk

    def slow_walk(top, *args, **kwargs):
        walkers.append(threading.current_thread())
        for entry in real(top, *args, **kwargs):
            release.wait(LONG / 1000)
            yield entry

    monkeypatch.setattr(batch_plan.os, "walk", slow_walk)
    panel = window.batch
    panel.add_paths([src])
    assert panel.rows == [] and panel.cancel_all_btn.isEnabled()  # returned at once
    assert panel.summary.text().startswith("Looking for images")
    panel.cancel_all_btn.click()
    release.set()
    qtbot.waitUntil(lambda: not panel.collecting, timeout=LONG)
    assert threading.main_thread() not in walkers
    assert panel.rows == [] and panel.summary.text() == "Stopped looking for images."
    assert not panel.collecting and not panel.cancel_all_btn.isEnabled()
    assert queue(qtbot, panel, [src]) == [4, []]  # walked again, to the end


def test_an_image_opened_during_a_walk_is_not_replaced_by_the_batchs_first(
        qtbot, window, tmp_path, monkeypatch):
    """The first queued file opens for a look only if the user has not opened another
    image while the folder was walked."""
    src = tmp_path / "share"
    make_folder(src, corrupt=False)
    mine = write_photo(tmp_path / "mine.png", 32, 32, seed=9)
    release = threading.Event()
    real = os.walk

    def slow_walk(top, *args, **kwargs):
        release.wait(LONG / 1000)
        yield from real(top, *args, **kwargs)

    monkeypatch.setattr(batch_plan.os, "walk", slow_walk)
    loads = []
    real_load = window.pipeline.load
    monkeypatch.setattr(window.pipeline, "load", lambda p: (loads.append(p), real_load(p)))
    drop_urls(window, [src])
    window.opener.open_file(mine)
    with qtbot.waitSignal(window.batch.queued, timeout=LONG):
        release.set()
    assert len(window.batch.rows) == 4
    assert loads == [mine]  # the batch's first file was not opened over it
    qtbot.waitUntil(lambda: window.doc is not None and window.doc.path == mine, timeout=LONG)
