"""Recipe schema: YAML loading, overrides, ${VAR} expansion, unknown keys, types, dump round trip."""

from __future__ import annotations

import pytest

from embedforge.config import DatasetSpec, LossSpec, Recipe, RecipeError, dump_recipe, load_recipe
from embedforge.config.recipe import parse_recipe, read_recipe
from unit.config.recipe_helpers import write_recipe

BASE = {
    "model": {"path": "some/model"},
    "train_datasets": {"sts": {"path": "${DATA_DIR:-data}/train.csv", "columns": ["a", "b", "score"]}},
    "loss": {"name": "CoSENTLoss", "args": {"scale": 20}},
    "evaluators": [{"name": "EmbeddingSimilarityEvaluator", "data": {"path": "x.csv"}, "args": {"name": "dev"}}],
    "training": {"max_steps": 5},
}


def test_load_builds_typed_dataclasses(tmp_path, monkeypatch):
    monkeypatch.delenv("DATA_DIR", raising=False)
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", BASE))
    assert isinstance(recipe, Recipe)
    assert recipe.train_datasets["sts"] == DatasetSpec(path="data/train.csv", columns=["a", "b", "score"])
    assert recipe.loss == LossSpec(name="CoSENTLoss", args={"scale": 20})
    assert recipe.evaluators[0].when == ["before", "during", "after"]
    assert recipe.training == {"max_steps": 5}


def test_environment_variables_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", "/elsewhere")
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", BASE))
    assert recipe.train_datasets["sts"].path == "/elsewhere/train.csv"
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    broken = {**BASE, "output_dir": "${NOT_SET_ANYWHERE}/out"}
    with pytest.raises(RecipeError, match="NOT_SET_ANYWHERE"):
        load_recipe(write_recipe(tmp_path / "b.yaml", broken))


def test_overrides_are_yaml_scalars_and_reach_lists(tmp_path):
    recipe = load_recipe(
        write_recipe(tmp_path / "r.yaml", BASE),
        [
            "training.max_steps=3",
            "training.learning_rate=2e-5",
            "train_datasets.sts.limit=10",
            "evaluators.0.args.batch_size=4",
            "model.revision=null",
            "train_datasets.sts.columns=[b, a, score]",
            "training.new_field=abc",
        ],
    )
    assert recipe.training == {"max_steps": 3, "learning_rate": 2e-5, "new_field": "abc"}
    assert recipe.train_datasets["sts"].limit == 10
    assert recipe.train_datasets["sts"].columns == ["b", "a", "score"]
    assert recipe.evaluators[0].args == {"name": "dev", "batch_size": 4}


def test_bad_overrides_are_reported(tmp_path):
    with pytest.raises(RecipeError) as error:
        load_recipe(write_recipe(tmp_path / "r.yaml", BASE), ["no_equals_sign", "evaluators.7.args.x=1"])
    assert len(error.value.problems) == 2
    assert "key=value" in error.value.problems[0]


def test_unknown_keys_name_key_section_and_known_keys(tmp_path):
    broken = {**BASE, "los": {"name": "CoSENTLoss"}, "model": {"path": "m", "pth": "x"}}
    recipe, problems = read_recipe(write_recipe(tmp_path / "r.yaml", broken))
    assert len(problems) == 2
    top = next(problem for problem in problems if "'los'" in problem)
    model = next(problem for problem in problems if "'pth'" in problem)
    assert "unknown key 'los' in section 'recipe'" in top and "did you mean 'loss'" in top
    assert "unknown key 'pth' in section 'model'" in model and "from_package" in model
    assert recipe is not None and recipe.model.path == "m"  # the rest is still read


def test_wrong_types_are_reported():
    recipe, problems = parse_recipe(
        {
            "model": {"path": "m", "trust_remote_code": "yes"},
            "train_datasets": {"a": {"path": "x", "limit": "ten"}},
            "evaluators": {},
        }
    )
    assert len(problems) == 3
    assert any("model.trust_remote_code" in problem and "bool" in problem for problem in problems)
    assert any("train_datasets.a.limit" in problem for problem in problems)
    assert recipe.train_datasets["a"].limit is None


def test_model_needs_one_source_and_known_stages():
    _, problems = parse_recipe(
        {"model": {"path": "m", "from_package": "p"}, "evaluators": [{"name": "X", "when": ["later"]}]}
    )
    assert any("both 'path' and 'from_package'" in problem for problem in problems)
    assert any("unknown stage(s) ['later']" in problem for problem in problems)


def test_dump_round_trips(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", BASE))
    recipe.loss = LossSpec(name="MatryoshkaLoss", args={"matryoshka_dims": [32, 16]}, loss=LossSpec(name="CoSENTLoss"))
    (tmp_path / "dumped.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    assert load_recipe(tmp_path / "dumped.yaml") == recipe


def test_unreadable_files(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe(tmp_path / "list.yaml")
