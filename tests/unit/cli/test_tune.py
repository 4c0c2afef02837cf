"""``embedforge tune``: optuna trials over recipe overrides, each a full train run, and the search report."""

from __future__ import annotations

import json

import pytest
import yaml

from embedforge.cli import main
from unit.config.recipe_helpers import tiny_recipe, write_recipe

pytest.importorskip("optuna")


@pytest.fixture
def recipe(tmp_path, tiny_bert_path):
    data = tiny_recipe(tmp_path, tiny_bert_path)
    data["training"]["max_steps"] = 2
    data["search"] = {
        "metric": "test_spearman_cosine",
        "direction": "maximize",
        "space": {
            "training.learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
            "training.per_device_train_batch_size": {"type": "categorical", "choices": [4, 8]},
        },
    }
    return data


def test_trials_run_as_train_runs_and_the_report_ranks_them(tmp_path, recipe, capsys):
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert main(["tune", str(path), "--trials", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best trial" in out
    search = json.loads((tmp_path / "out" / "tune" / "report.json").read_text(encoding="utf-8"))
    assert [trial["number"] for trial in search["trials"]] == [0, 1, 2]
    for trial in search["trials"]:
        run = json.loads((tmp_path / "out" / f"trial-{trial['number']}" / "report" / "report.json").read_text())
        after = {row["metric"]: row["after"] for row in run["metrics"]}
        assert trial["objective"] == pytest.approx(after["test_spearman_cosine"])  # the trial's own after-metric
        used = yaml.safe_load(run["recipe"])["training"]
        assert used["learning_rate"] == trial["values"]["training.learning_rate"]
        assert used["per_device_train_batch_size"] == trial["values"]["training.per_device_train_batch_size"]
        assert 1e-5 <= trial["values"]["training.learning_rate"] <= 1e-2
    best = max(search["trials"], key=lambda trial: trial["objective"])
    assert search["best"]["number"] == best["number"]
    markdown = (tmp_path / "out" / "tune" / "report.md").read_text(encoding="utf-8")
    assert markdown.splitlines()[6].startswith(f"| {best['number']} |")  # best first


def test_bad_search_sections_fail_before_any_trial(tmp_path, recipe, capsys):
    recipe["search"]["metric"] = ""
    recipe["search"]["space"]["training.warmup_steps"] = {"type": "float", "low": 0.5, "high": 0.1}
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert main(["tune", str(path), "--trials", "2", "-q"]) == 1
    err = capsys.readouterr().err
    assert "search.metric is empty" in err and "low (0.5) is above high (0.1)" in err
    assert not (tmp_path / "out").exists()
    del recipe["search"]
    assert main(["tune", str(write_recipe(tmp_path / "plain.yaml", recipe)), "-q"]) == 1
    assert "no 'search' section" in capsys.readouterr().err


def test_an_unknown_metric_stops_after_the_first_trial(tmp_path, recipe, capsys):
    recipe["search"]["metric"] = "dev_no_such_metric"
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert main(["tune", str(path), "--trials", "3", "-q"]) == 1
    err = capsys.readouterr().err
    assert "'dev_no_such_metric' is not among the after-training metrics" in err and "test_spearman_cosine" in err
    assert not (tmp_path / "out" / "trial-1").exists()
