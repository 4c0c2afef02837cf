"""``embedforge validate``: help, a good recipe, a broken one (all problems, exit 1), JSON lines, bad arguments."""

from __future__ import annotations

import json

import pytest

from embedforge.cli import main
from unit.config.recipe_helpers import tiny_recipe, write_recipe


@pytest.fixture
def recipe_path(tmp_path, tiny_bert_path):
    return write_recipe(tmp_path / "recipe.yaml", tiny_recipe(tmp_path, tiny_bert_path))


def test_help_has_examples(capsys):
    assert main(["validate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "embedforge validate recipes/stsb.yaml" in out


def test_a_good_recipe(recipe_path, capsys):
    assert main(["validate", str(recipe_path), "train_datasets.sts.limit=10"]) == 0
    out = capsys.readouterr().out
    assert "OK (sts: 10 rows)" in out
    assert "sts.sentence1: 10 texts" in out  # the token-length histogram


def test_a_recipe_with_three_mistakes_reports_all_three(tmp_path, tiny_bert_path, capsys):
    recipe = tiny_recipe(tmp_path, tiny_bert_path)
    recipe["loss"]["name"] = "CosentLoss"
    recipe["train_datasets"]["sts"]["columns"] = ["sentence1", "sentence2", "label_score"]
    recipe["evaluators"][1]["name"] = "TripletEvaluater"
    assert main(["validate", str(write_recipe(tmp_path / "broken.yaml", recipe)), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "3 problem(s) found" in captured.out
    assert "unknown loss 'CosentLoss'; did you mean CoSENTLoss" in captured.err
    assert "column(s) ['label_score'] not in the data" in captured.err
    assert "unknown evaluator 'TripletEvaluater'; did you mean TripletEvaluator" in captured.err


def test_json_lines(recipe_path, capsys):
    assert main(["validate", str(recipe_path), "loss.name=Nope", "--json"]) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "validation" and events[-1]["ok"] is False
    assert any(event["event"] == "error" and "unknown loss 'Nope'" in event["message"] for event in events)


def test_bad_arguments(tmp_path, capsys):
    assert main(["validate"]) == 2
    assert "RECIPE.yaml" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.yaml"), "-q"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.yaml"), "--quiet", "--json"]) == 2
