"""Which window settings are remembered between runs, and how they are put back.

Kept apart from the window so the list of remembered things (and the recent-files menu
built from them) is easy to read and to extend; the storage itself is
:class:`denoiser.gui.settings.AppSettings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from denoiser.gui.main_window import MainWindow


def restore(win: MainWindow, device: str | None) -> None:
    """Put the remembered settings back into a freshly built window."""
    s = win.settings
    geo, state = s.geometry(), s.window_state()
    if geo is not None:
        win.restoreGeometry(geo)
    else:
        win.resize(1280, 800)
    if state is not None:
        win.restoreState(state)
    c = win.controls
    for w in (c, c.model_picker, c.compare_picker):
        w.blockSignals(True)
    c.set_sigma(s.get("sigma"))
    c.set_auto(s.get("auto_sigma"))
    c.set_device(device or s.get("device"))
    c.set_tile(s.get("tile"))
    c.blend_slider.setValue(round(s.get("uncertainty_blend") * 100))
    for w in (c, c.model_picker, c.compare_picker):
        w.blockSignals(False)
    win.batch.set_options(s.get("output_dir"), s.get("naming"), s.get("out_format"),
                           s.get("jpeg_quality"), s.get("keep_metadata"))
    win.note_action.setChecked(s.get("note_metadata"))
    mode = s.get("view_mode")
    win.set_view_mode(mode if mode in ("split", "side") else "split")
    win.actions_.loupe.setChecked(s.get("loupe"))
    win.actions_.show_batch.setChecked(win.batch_dock.isVisible())
    win.actions_.show_controls.setChecked(win.controls_dock.isVisible())
    update_recent_menu(win)


def store(win: MainWindow) -> None:
    """Remember the window's settings (called on close)."""
    s, c = win.settings, win.controls
    m = c.model_picker.current()
    # only a model the user picked is remembered; otherwise each image gets its default
    s.set("model", m.name if m is not None and c.model_picker.chosen else "")
    cm = c.compare_picker.current()
    if cm is not None:
        s.set("compare_model", cm.name)
    s.set("sigma", c.sigma())
    s.set("auto_sigma", c.is_auto())
    s.set("device", c.device())
    s.set("tile", c.tile_spin.value())
    s.set("uncertainty_blend", c.blend_slider.value() / 100)
    s.set("view_mode", win.view.mode())
    s.set("loupe", win.actions_.loupe.isChecked())
    s.set("note_metadata", win.note_action.isChecked())
    for k, v in win.batch.options().items():
        s.set(k, v)
    s.set_window(win.saveGeometry(), win.saveState())
    s.sync()


def remember_file(win: MainWindow, path: Path) -> None:
    """An image was opened: first in the recent files, its folder the next dialog's."""
    win.settings.add_recent_file(path)
    win.settings.set("last_open_dir", str(path.parent))
    update_recent_menu(win)


def update_recent_menu(win: MainWindow) -> None:
    menu = win.actions_.recent_menu
    menu.clear()
    recent = win.settings.recent_files()
    for p in recent:
        a = menu.addAction(Path(p).name)
        a.setToolTip(p)
        a.triggered.connect(lambda _=False, p=p: win.opener.open_file(p))
    if recent:
        menu.addSeparator()
        menu.addAction(win.actions_.clear_recent)
    menu.setEnabled(bool(recent))


def clear_recent(win: MainWindow) -> None:
    win.settings.clear_recent_files()
    update_recent_menu(win)
