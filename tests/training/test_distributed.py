"""Two gloo processes under torchrun train one model: same weights on both ranks, loss falls."""

from __future__ import annotations

import csv
import re
import subprocess
import sys

import yaml


def torchrun(recipe_path, out, data_root, timeout=900):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train", "--recipe", str(recipe_path), "--out", str(out),
           "--data-root", str(data_root), "--threads", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return dict(re.findall(r"rank (\d): step \d+, weights ([-+0-9.e]+)", done.stdout)), done.stdout


def test_two_ranks_end_with_identical_weights_and_resume(tmp_path, image_root, tiny_recipe):
    tiny_recipe["train"].update(steps=40, val_every=20, ckpt_every=20, log_every=10)
    recipe_path = tmp_path / "tiny.yaml"
    recipe_path.write_text(yaml.safe_dump(tiny_recipe))
    out = tmp_path / "run"
    digests, stdout = torchrun(recipe_path, out, image_root)
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], stdout
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert [int(r["step"]) for r in rows].count(40) == 1  # only rank 0 logs

    tiny_recipe["train"]["steps"] = 50
    recipe_path.write_text(yaml.safe_dump(tiny_recipe))
    digests, stdout = torchrun(recipe_path, out, image_root)
    assert "step 50" in stdout and digests["0"] == digests["1"]
