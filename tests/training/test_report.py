"""The models page is built from evaluation JSON alone."""

from __future__ import annotations

import json
from pathlib import Path

from training.report import main


def result(psnr: float, by_detail: list[float] | None = None) -> dict:
    r = {"psnr": psnr, "ssim": 0.9, "sec_per_mp": 1.0, "images": 2}
    if by_detail:
        r["psnr_by_detail"] = {"psnr": by_detail, "detail_upper": [1, 2, 3, 4]}
    return r


def test_page_has_the_table_and_the_detail_split(tmp_path):
    res = {"data": "photos", "methods": {
        "ours": {"25": result(30.0, [40.0, 33.0, 30.5, 28.25]), "15": result(33.0)},
        "bm3d": {"25": result(29.5, [39.0, 32.5, 30.0, 28.0])}}, "command": "python -m x"}
    (tmp_path / "e.json").write_text(json.dumps(res))
    assert main(["--eval", str(tmp_path / "e.json"), "--out", str(tmp_path / "docs")]) == 0
    page = (tmp_path / "docs" / "models.md").read_text()
    assert "| ours (2 images) | 33.00 / 0.9000 | 30.00 / 0.9000 |" in page
    assert "| ours | sigma 25 | 40.00 | 33.00 | 30.50 | 28.25 |" in page
    assert "| bm3d | sigma 25 | 39.00 | 32.50 | 30.00 | 28.00 |" in page
    assert page.index("| ours | sigma 25") < page.index("| bm3d | sigma 25")
    assert "Reproduce: `python -m x`" in page


def test_no_detail_split_without_the_figures(tmp_path):
    res = {"data": "photos", "methods": {"ours": {"25": result(30.0)}}}
    (tmp_path / "e.json").write_text(json.dumps(res))
    main(["--eval", str(tmp_path / "e.json"), "--out", str(tmp_path)])
    assert "by local detail" not in (tmp_path / "models.md").read_text()


def test_page_has_the_colour_split_when_recorded(tmp_path):
    r = result(30.0)
    r["mse_by_colour"] = {"parts": ["luma coarse", "luma fine", "colour coarse",
                                    "colour fine"], "mse": [1.5, 2.0, 3.25, 4.0]}
    res = {"data": "photos", "methods": {"ours": {"15": r}}}
    (tmp_path / "e.json").write_text(json.dumps(res))
    main(["--eval", str(tmp_path / "e.json"), "--out", str(tmp_path)])
    page = (tmp_path / "models.md").read_text()
    assert "| method | setting | luma coarse | luma fine | colour coarse | colour fine |" in page
    assert "| ours | sigma 15 | 1.50 | 2.00 | 3.25 | 4.00 |" in page
    r["kept_by_colour"] = {"parts": r["mse_by_colour"]["parts"], "kept": [1, 0.9, 0.8, 0.35]}
    (tmp_path / "e.json").write_text(json.dumps(res))
    main(["--eval", str(tmp_path / "e.json"), "--out", str(tmp_path)])
    page = (tmp_path / "models.md").read_text()
    assert "| ours | sigma 15 | 1.50 | 2.00 | 3.25 | 4.00 (35% kept) |" in page


def test_a_stage_without_a_checkpoint_starts_where_its_init_run_ends(tmp_path):
    """Superseded checkpoints are deleted; the curves still line up through the recipes."""
    from training.report import stage_offsets

    def log(name: str, steps: list[int]) -> Path:
        path = tmp_path / f"{name}-log.csv"
        rows = "".join(f"{s},1.0,1e-4,0.1,0.1,0,\n" for s in steps)
        path.write_text("step,seconds,lr,loss,rec,kl,val_psnr\n" + rows)
        return path

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "b.yaml").write_text("name: b\ninit: training/checkpoints/a.pt  # step 300\n")
    (recipes / "c.yaml").write_text("name: c\ninit: training/checkpoints/b.pt\n")
    (recipes / "d.yaml").write_text("name: d\ninit: runs/c/last.pt\n")  # a run's own folder
    (recipes / "loop.yaml").write_text("name: loop\ninit: training/checkpoints/loop.pt\n")
    logs = [log("a", [100, 200, 300]), log("b", [50, 100]), log("c", [50]), log("d", [50]),
            log("loop", [50])]
    assert stage_offsets(logs, recipes) == {"b": 300, "c": 400, "d": 450}  # the rest at 0


def test_calls_split_by_sigma_make_one_table(tmp_path):
    """A model's evaluation run in several calls (peers one sigma at a time) is shown once."""
    calls = [{"data": "photos", "methods": {"ours": {"15": result(33.0), "25": result(30.0)}},
              "command": "python -m a"},
             {"data": "photos", "methods": {"ours": {"15": result(33.0)},
                                            "bm3d": {"15": result(32.0)}},
              "command": "python -m b"},
             {"data": "photos", "methods": {"ours": {"25": result(30.0)},
                                            "bm3d": {"25": result(29.0)}},
              "command": "python -m c"}]
    paths = []
    for i, res in enumerate(calls):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(res))
    main(["--eval", *map(str, paths), "--out", str(tmp_path)])
    page = (tmp_path / "models.md").read_text()
    assert page.count("### ours on photos") == 1
    assert page.count("| ours (2 images)") == 1
    assert "| bm3d (2 images) | 32.00 / 0.9000 | 29.00 / 0.9000 |" in page
    assert all(f"- `python -m {c}`" in page for c in "abc")


def test_calls_that_disagree_or_saw_other_images_stay_apart(tmp_path):
    fewer = {**result(34.0), "images": 1}
    calls = [{"data": "photos", "methods": {"ours": {"15": result(33.0)}}},
             {"data": "photos", "methods": {"ours": {"15": result(33.5)}}},
             {"data": "photos", "methods": {"ours": {"25": fewer}}},
             {"data": "photos", "methods": {"theirs": {"15": result(33.0)}}}]
    paths = []
    for i, res in enumerate(calls):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(res))
    main(["--eval", *map(str, paths), "--out", str(tmp_path)])
    assert (tmp_path / "models.md").read_text().count(" on photos\n") == 4
