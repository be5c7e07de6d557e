"""Every recipe in training/recipes/ is one the trainer can start: a typo in a recipe that
runs for hours would otherwise show only when its sitting begins."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.archs import build  # noqa: E402
from training.distill import check as check_distill  # noqa: E402
from training.losses import reconstruction  # noqa: E402
from training.train import learning_rate, load_recipe, param_groups  # noqa: E402
from training.wallpaper_photos import DEFAULT_OUT as WALLPAPER_PHOTOS  # noqa: E402

RECIPES = sorted((Path(__file__).resolve().parents[2] / "training" / "recipes").glob("*.yaml"))
TRAIN_KEYS = {"seed", "batch", "steps", "lr", "lr_min", "warmup", "loss", "val_every",
              "ckpt_every"}


def test_there_are_recipes():
    assert len(RECIPES) > 10


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_builds_its_network_and_loss(path: Path):
    recipe = load_recipe(path)
    assert recipe["name"] == path.stem  # the run folder and the log are named after it
    assert TRAIN_KEYS <= set(recipe["train"]), TRAIN_KEYS - set(recipe["train"])
    # the shared data sets, or a folder one of the project's scripts builds
    assert all(name.startswith(("train/", "real/")) or name == WALLPAPER_PHOTOS.as_posix()
               for name in recipe["data"]["train"])
    cfg = recipe["train"]
    assert 0 < learning_rate(cfg["steps"] // 2, cfg) <= cfg["lr"]

    model = build(**recipe["arch"]).eval()
    param_groups(model, cfg.get("lr_scale", {}))  # raises if a scale names no parameter
    side = model.multiple
    noisy, sigma = torch.rand(1, model.channels, side, side), torch.full((1, 1, side, side), 0.1)
    with torch.no_grad():
        out = model(noisy, sigma)
    out = out[0] if isinstance(out, tuple) else out
    assert out.shape == noisy.shape

    loss = reconstruction(cfg, sigma)
    assert torch.isfinite(loss(out, noisy))
    if "distill" in recipe:
        check_distill(recipe["distill"])
