"""Finding the installed models at start-up and choosing the one to show first.

Why in a worker: discovery reads every model's metadata from disk; the window is shown
first and the model list fills in a moment later (``modelsLoaded``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from denoiser.gui import backend
from denoiser.gui.qtcompat import emit

if TYPE_CHECKING:
    from denoiser.gui.main_window import MainWindow

NO_MODELS = "No denoising model is installed, so images can be viewed but not denoised."


def load_models(win: MainWindow, override: str | None) -> None:
    """Discover the models; ``override`` (--model: a name or a file) is put first."""
    win.runner.submit(lambda job: backend.discover_models(), "models",
                      succeeded=lambda models: _models_loaded(win, models, override),
                      failed=lambda m: win.banner.show_message(m, "error"))


def _models_loaded(win: MainWindow, models: list[Any], override: str | None) -> None:
    if override:
        try:
            extra = backend.find_model(override)
        except Exception as e:  # noqa: BLE001 - shown to the user, app keeps going
            win.banner.show_message(str(e), "error")
        else:
            models = [extra] + [m for m in models if m.path != extra.path]
    win.models = models
    first, chosen = _first_choice(win, models, override)
    win.controls.set_models(models, first, win.settings.get("compare_model") or None)
    win.controls.model_picker.chosen = chosen
    if not models:
        win.banner.show_message(NO_MODELS, "warning")
    emit(win.modelsLoaded, models)


def _first_choice(win: MainWindow, models: list[Any], override: str | None
                  ) -> tuple[str | None, bool]:
    """(model, chosen by the user): the override, else the remembered model if still
    installed, else the default for the open image's channels (colour if none is open)."""
    want = override or win.settings.get("model") or None
    if want and any(want in (m.name, str(m.path)) for m in models):
        return want, True
    if not models:
        return None, False
    doc = win.pipeline.doc
    return str(backend.choose_default(models, doc.channels if doc else 3).path), False
