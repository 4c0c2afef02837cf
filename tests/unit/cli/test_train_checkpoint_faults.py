"""``embedforge train --resume`` with damaged checkpoints: skip a cut-short one, or refuse with the fix."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file

from embedforge.cli import main
from unit.config.recipe_helpers import tiny_recipe, write_recipe

OVERRIDES = [
    "training.max_steps=4",
    "training.save_strategy=steps",
    "training.save_steps=2",
    "training.eval_strategy=no",
    "training.data_seed=5",
]


@pytest.fixture
def recipe_path(tmp_path, tiny_bert_path):
    return write_recipe(tmp_path / "recipe.yaml", tiny_recipe(tmp_path, tiny_bert_path))


def test_resume_skips_a_cut_short_checkpoint_and_ends_with_the_same_weights(tmp_path, recipe_path, caplog):
    assert main(["train", str(recipe_path), *OVERRIDES, "-q"]) == 0
    run = tmp_path / "out"
    expected = load_file(run / "final" / "model.safetensors")
    weights = run / "checkpoint-4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a kill in the middle of the write, before atomic saves
    shutil.rmtree(run / "final")
    with caplog.at_level(logging.WARNING, logger="embedforge.training.checkpoints"):
        assert main(["train", str(recipe_path), *OVERRIDES, "-q", "--resume"]) == 0
    warning = "\n".join(record.getMessage() for record in caplog.records)
    assert f"Skipping {run / 'checkpoint-4'}" in warning and "model.safetensors: cut short" in warning
    assert "Resuming from checkpoint-2" in warning
    resumed = load_file(run / "final" / "model.safetensors")
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)
    assert load_file(weights).keys() == expected.keys()  # checkpoint-4 was written again, complete


def test_resume_with_only_damaged_checkpoints_names_them_and_the_fix(tmp_path, recipe_path, capsys):
    for step in (2, 4):
        folder = tmp_path / "out" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\x10\x00")
    assert main(["train", str(recipe_path), "-q", "--resume"]) == 1
    err = capsys.readouterr().err
    assert "--resume: No complete checkpoint" in err
    assert "checkpoint-4: trainer_state.json is missing" in err and "checkpoint-2: " in err
    assert "model.safetensors: cut short (2 bytes" in err and "Remove these folders" in err
    assert "Traceback" not in err


def test_a_leftover_staging_folder_is_not_a_checkpoint(tmp_path, recipe_path, capsys):
    (tmp_path / "out" / ".partial-checkpoint-2" / "checkpoint-2").mkdir(parents=True)
    assert main(["train", str(recipe_path), "-q", "--resume"]) == 1
    assert "no checkpoint-<step> folder" in capsys.readouterr().err
