"""validate_recipe: every problem at once, data vs loss through the trainer's check, token-length statistics."""

from __future__ import annotations

import pytest

from embedforge.config import validate_recipe
from unit.config.recipe_helpers import sts_rows, tiny_recipe, write_csv, write_recipe


@pytest.fixture
def recipe(tmp_path, tiny_bert_path):
    return tiny_recipe(tmp_path, tiny_bert_path)


def test_a_good_recipe_passes_with_length_statistics(tmp_path, recipe):
    recipe["model"]["max_seq_length"] = 6
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe))
    assert report.ok, report.problems
    assert set(report.train_datasets) == {"sts"} and len(report.train_datasets["sts"]) == 32
    assert [stats.column for stats in report.lengths] == ["sentence1", "sentence2"]
    stats = report.lengths[0]
    assert stats.count == 32 and stats.max_seq_length == 6
    assert stats.truncated == 32 and stats.truncated_share == 1.0  # "[CLS] a man plays near the park [SEP]": 8 > 6
    assert sum(count for _, count in stats.histogram) == 32
    assert "longer than max_seq_length 6" in report.format_lengths()
    assert [type(evaluator).__name__ for evaluator in report.evaluators] == ["EmbeddingSimilarityEvaluator"] * 2


def test_max_seq_length_comes_from_the_model(tmp_path, recipe):
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe))
    assert report.lengths[0].max_seq_length == 64 and report.lengths[0].truncated == 0


def test_three_mistakes_are_reported_in_one_run(tmp_path, recipe):
    recipe["loss"]["name"] = "CoSentLoss"
    recipe["evaluators"][1]["name"] = "EmbeddingSimilarityEvaluater"
    recipe["evaluators"][0]["data"]["path"] = str(tmp_path / "missing.csv")
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe))
    assert not report.ok
    text = "\n".join(report.problems)
    assert len(report.problems) == 3, text
    assert "unknown loss 'CoSentLoss'; did you mean CoSENTLoss" in text
    assert "unknown evaluator 'EmbeddingSimilarityEvaluater'; did you mean EmbeddingSimilarityEvaluator" in text
    assert "missing.csv' does not exist" in text


def test_data_that_does_not_fit_the_loss(tmp_path, recipe):
    rows = sts_rows(6)
    rows[2]["sentence2"] = ""
    for row in rows:
        row["score"] = "high"
    recipe["train_datasets"]["sts"]["path"] = str(write_csv(tmp_path / "bad.csv", rows))
    recipe["train_datasets"]["triple"] = {
        "path": str(write_csv(tmp_path / "ok.csv", sts_rows(6))),
        "columns": ["sentence1", "sentence2", "genre", "score"],
    }
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe), ["training.eval_strategy=no"])
    text = "\n".join(report.problems)
    assert "'sentence2' has 1 missing or empty text(s)" in text
    assert "label column 'score' has dtype large_string, but the loss expects float labels" in text
    assert "dataset 'triple' with CoSENTLoss: 3 input column(s) ['sentence1', 'sentence2', 'genre']" in text


def test_schema_training_and_argument_problems_together(tmp_path, recipe):
    recipe["model"]["pth"] = "x"
    recipe["training"]["num_train_epoch"] = 1
    recipe["loss"] = {"name": "MatryoshkaLoss", "args": {"matryoshka_dim": [8]}}
    recipe["evaluators"][0]["args"]["nam"] = "dev"
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe), check_model=False)
    text = "\n".join(report.problems)
    assert "unknown key 'pth' in section 'model'" in text
    assert "did you mean num_train_epochs" in text
    assert "argument of MatryoshkaLoss 'matryoshka_dim'; did you mean matryoshka_dims" in text
    assert "MatryoshkaLoss wraps another loss" in text
    assert "argument of EmbeddingSimilarityEvaluator 'nam'" in text
    assert report.lengths == []


def test_evaluation_steps_need_something_to_evaluate(tmp_path, recipe):
    recipe["evaluators"] = recipe["evaluators"][1:]
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe), check_model=False)
    assert any("eval_strategy='steps' needs an evaluator" in problem for problem in report.problems)


def test_missing_model_folder_and_package(tmp_path, recipe):
    report = validate_recipe(write_recipe(tmp_path / "r.yaml", recipe), [f"model.path={tmp_path}/nope"])
    assert any("does not exist" in problem for problem in report.problems)
    report = validate_recipe(
        write_recipe(tmp_path / "r.yaml", recipe), ["model.path=null", "model.from_package=no_such_package_xyz"]
    )
    assert any("no_such_package_xyz" in problem and "not installed" in problem for problem in report.problems)
