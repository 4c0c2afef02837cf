"""``embedforge evaluate --truncate-dim`` and a recipe's truncate_dim: metrics as ST's evaluators give them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from embedforge.cli import main
from embedforge.config.build import build_model
from embedforge.config.recipe import parse_recipe
from model_builders import build_tiny_classifier

PAIRS = [
    ("A man is playing a guitar.", "A man plays music.", 4.2),
    ("A dog runs on the beach.", "A cat sits under the table.", 0.5),
    ("Two children are playing in the park.", "Children play outside near the water.", 3.6),
    ("The quick brown fox jumps.", "A woman is eating food.", 0.1),
    ("An old man sits outside.", "A man is sitting outside the house.", 3.9),
    ("what is the capital?", "A red car on the street.", 0.0),
    ("A woman walks her dog.", "A person walks with a dog.", 4.5),
    ("Three people play music.", "People are playing the guitar.", 3.1),
]


@pytest.fixture
def sts_file(tmp_path: Path) -> Path:
    path = tmp_path / "sts.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence1", "sentence2", "score"])
        writer.writerows(PAIRS)
    return path


def run_json(*argv: str, capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    assert main(["evaluate", *argv, "--device", "cpu", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return next(event["metrics"] for event in events if event["event"] == "metrics")


def st_metrics(model_path: Path, truncate_dim: int | None, name: str = "sts") -> dict[str, float]:
    """sentence-transformers' EmbeddingSimilarityEvaluator on the same pairs and model, at ``truncate_dim``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(
        [p[0] for p in PAIRS], [p[1] for p in PAIRS], [p[2] for p in PAIRS], name=name, truncate_dim=truncate_dim
    )
    return evaluator(SentenceTransformer(str(model_path), device="cpu"))


def assert_same_metrics(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_flag_truncates_like_sentence_transformers(
    tiny_bert_path: Path, sts_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncated = run_json(str(tiny_bert_path), "--sts", str(sts_file), "--truncate-dim", "8", capsys=capsys)
    full = run_json(str(tiny_bert_path), "--sts", str(sts_file), capsys=capsys)

    assert_same_metrics(truncated, st_metrics(tiny_bert_path, 8))
    assert truncated["sts_pearson_cosine"] != pytest.approx(full["sts_pearson_cosine"], abs=1e-6)


def test_recipe_model_truncate_dim_applies_and_the_flag_wins(
    tiny_bert_path: Path, sts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "model: {truncate_dim: 8}\n"
        "evaluators:\n"
        "  - name: EmbeddingSimilarityEvaluator\n"
        f"    data: {{path: {sts_file}}}\n"
        "    args: {name: sts}\n"
    )
    from_recipe = run_json(str(tiny_bert_path), "--recipe", str(recipe), capsys=capsys)
    from_flag = run_json(str(tiny_bert_path), "--truncate-dim", "16", "--recipe", str(recipe), capsys=capsys)

    assert_same_metrics(from_recipe, st_metrics(tiny_bert_path, 8))
    assert_same_metrics(from_flag, st_metrics(tiny_bert_path, 16))


def test_recipe_evaluator_truncate_dim_matches_sentence_transformers(
    tiny_bert_path: Path, sts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "evaluators:\n"
        "  - name: EmbeddingSimilarityEvaluator\n"
        f"    data: {{path: {sts_file}}}\n"
        "    args: {name: sts-8, truncate_dim: 8}\n"
    )
    # the evaluator's own truncate_dim is kept over the model's (set by the flag), as in sentence-transformers
    metrics = run_json(str(tiny_bert_path), "--truncate-dim", "16", "--recipe", str(recipe), capsys=capsys)

    assert_same_metrics(metrics, st_metrics(tiny_bert_path, 8, name="sts-8"))


def test_cross_encoder_refuses_truncate_dim(tmp_path: Path, sts_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_tiny_classifier(tmp_path / "classifier")
    options = ["--sts", str(sts_file), "--truncate-dim", "8", "--device", "cpu", "-q"]
    assert main(["evaluate", str(model), *options]) == 1
    assert "--truncate-dim 8 truncates embeddings, but this model is a CrossEncoder" in capsys.readouterr().err


def test_non_positive_truncate_dim_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "model", "--sts", "x.csv", "--truncate-dim", "0"]) == 2
    assert "--truncate-dim must be a positive integer, got 0" in capsys.readouterr().err


def test_recipe_schema_checks_truncate_dim() -> None:
    _, problems = parse_recipe({"model": {"type": "cross-encoder", "path": "m", "truncate_dim": 8}})
    assert any("model.truncate_dim truncates embeddings, but a cross-encoder" in p for p in problems)
    _, problems = parse_recipe({"model": {"path": "m", "truncate_dim": 0}})
    assert any("model.truncate_dim must be a positive number of dimensions, found 0" in p for p in problems)
    recipe, problems = parse_recipe({"model": {"path": "m", "truncate_dim": 8}})
    assert problems == []
    assert recipe.model.truncate_dim == 8


def test_build_model_sets_the_model_truncate_dim(tiny_bert_path: Path) -> None:
    recipe, _ = parse_recipe({"model": {"path": str(tiny_bert_path), "truncate_dim": 8, "device": "cpu"}})
    model = build_model(recipe.model)
    assert model.truncate_dim == 8
    assert model.encode(["A man plays a guitar."]).shape == (1, 8)
