"""The About box's provenance line counts a staged model's training in full."""

from __future__ import annotations

import json

from denoiser.gui.about_dialog import training_line


def test_staged_model_lists_its_stages():
    meta = {"training_steps": "57706", "training_stages": json.dumps(
        [{"run": "ae-color", "steps": 51851}, {"run": "ae-color-p160", "steps": 5855}])}
    assert training_line(meta) == \
        "Training steps: 57,706 (ae-color 51,851, then ae-color-p160 5,855)"


def test_one_stage_or_older_files_give_the_total_alone():
    one = {"training_steps": "1830", "training_stages": '[{"run": "ae-photo", "steps": 1830}]'}
    assert training_line(one) == "Training steps: 1,830"
    assert training_line({"training_steps": "1830"}) == "Training steps: 1,830"
    assert training_line({"training_steps": "1830", "training_stages": "not json"}) == \
        "Training steps: 1,830"
    assert training_line({}) == ""
