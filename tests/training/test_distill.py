"""Distillation pulls a student towards its teacher's output and stage features."""

from __future__ import annotations

import copy

import pytest
import torch

from training import checkpoint
from training.archs import build
from training.distill import Teacher, check
from training.train import train


def _net(arch: dict) -> torch.nn.Module:
    arch = dict(arch)
    return build(arch.pop("name"), **arch)


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(2, 3, 32, 32, generator=g)
    sigma = torch.full((2, 1, 32, 32), 25 / 255)
    return clean, clean + sigma * torch.randn(clean.shape, generator=g), sigma


def test_a_student_equal_to_its_teacher_is_at_distance_zero(tiny_recipe):
    torch.manual_seed(0)
    student = _net(tiny_recipe["arch"])
    for p in student.parameters():  # a network that does something: the tail starts at zero
        torch.nn.init.normal_(p, std=0.05)
    teacher = Teacher(copy.deepcopy(student), student, output=1.0, features=1.0)
    clean, noisy, sigma = _inputs()
    loss, parts = teacher.loss(noisy, sigma, student(noisy, sigma), clean)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-9)
    assert parts["to_teacher"] == pytest.approx(0.0, abs=1e-9)
    assert parts["features"] == pytest.approx(0.0, abs=1e-9)

    student.body.mid[0].body[0].bias.data += 0.1  # one stage moves: the features part sees it
    _, parts = teacher.loss(noisy, sigma, student(noisy, sigma), clean)
    assert parts["features"] > 1e-4 and parts["to_teacher"] > 0


def test_teacher_and_student_need_the_same_stages(tiny_recipe):
    student = _net(tiny_recipe["arch"])
    deeper = _net({**tiny_recipe["arch"], "widths": [8, 16, 32], "blocks": [1, 1, 1]})
    with pytest.raises(ValueError, match="stages"):
        Teacher(deeper, student, output=1.0, features=1.0)
    Teacher(deeper, student, output=1.0, features=0.0)  # the output alone needs no match


def test_distillation_pulls_the_student_towards_the_teacher(tmp_path, image_root, tiny_recipe):
    tiny_recipe["train"]["steps"] = 60
    train(tiny_recipe, tmp_path / "teacher", image_root, max_minutes=None, threads=1)
    teacher = checkpoint.model_from(checkpoint.load(tmp_path / "teacher" / "last.pt"))

    student = copy.deepcopy(tiny_recipe)
    student["train"].update(steps=100, seed=1)
    alone = train(student, tmp_path / "alone", image_root, max_minutes=None, threads=1)
    student["distill"] = {"teacher": str(tmp_path / "teacher" / "last.pt"),
                          "output": 5.0, "features": 1.0}
    taught = train(student, tmp_path / "taught", image_root, max_minutes=None, threads=1)
    assert taught["step"] == alone["step"] == 100

    clean, noisy, sigma = _inputs(seed=3)
    with torch.no_grad():
        target = teacher(noisy, sigma)

        def distance(run: str) -> float:
            net = checkpoint.model_from(checkpoint.load(tmp_path / run / "last.pt"))
            return float((net(noisy, sigma) - target).pow(2).mean())

        assert distance("taught") < 0.7 * distance("alone")


@pytest.mark.parametrize("cfg", [{"teacher": "t.pt", "feature": 0.1}, {"output": 1.0},
                                 {"teacher": "t.pt", "output": -1.0}])
def test_a_misspelt_or_negative_distill_section_is_refused(cfg):
    with pytest.raises(ValueError, match="distill"):
        check(cfg)


def test_a_vae_recipe_with_a_teacher_is_refused(tiny_vae_recipe):
    tiny_vae_recipe["distill"] = {"teacher": "t.pt"}
    with pytest.raises(ValueError, match="AE"):
        Teacher.from_recipe(tiny_vae_recipe, _net(tiny_vae_recipe["arch"]))
