"""SequentialEvaluator against sentence-transformers 6.2, and its handling of custom evaluators."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from evaluation_helpers import NLI_SMALL, STS_SMALL, assert_metrics_match, nli_columns, sts_columns

from embedforge.evaluation import (
    EmbeddingSimilarityEvaluator,
    SentenceEvaluator,
    SequentialEvaluator,
    TripletEvaluator,
)

NO_MODEL = types.SimpleNamespace(model_card_data=None)
"""Stands in for a model: the evaluators below never use it, the card-data hook finds no card."""


class ConstantEvaluator(SentenceEvaluator):
    """Returns fixed metrics without touching the model."""

    def __init__(self, metrics: dict[str, float] | float, primary_metric: str | None = None) -> None:
        super().__init__()
        self.metrics = metrics
        self.primary_metric = primary_metric

    def __call__(self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1) -> Any:
        return self.metrics


def test_matches_sentence_transformers(
    sts_rows: list[dict[str, str]],
    nli_rows: list[dict[str, str]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    sts, nli = sts_columns(sts_rows, STS_SMALL), nli_columns(nli_rows, NLI_SMALL)
    ours = SequentialEvaluator([EmbeddingSimilarityEvaluator(*sts, name="sts-dev"), TripletEvaluator(*nli, name="nli")])
    theirs = st_evaluation.SequentialEvaluator(
        [
            st_evaluation.EmbeddingSimilarityEvaluator(*sts, name="sts-dev"),
            st_evaluation.TripletEvaluator(*nli, name="nli"),
        ]
    )
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"))
    assert list(our_metrics) == [
        "sts-dev_pearson_cosine",
        "sts-dev_spearman_cosine",
        "nli_cosine_accuracy",
        "sequential_score",
    ]
    assert_metrics_match(our_metrics, theirs(st_model, output_path=str(tmp_path / "st")))
    assert our_metrics["sequential_score"] == our_metrics["nli_cosine_accuracy"]
    assert ours.primary_metric == theirs.primary_metric == "sequential_score"
    assert sorted(path.name for path in (tmp_path / "ours").iterdir()) == [
        "similarity_evaluation_sts-dev_results.csv",
        "triplet_evaluation_nli_results.csv",
    ]


def test_main_score_function_combines_primary_scores() -> None:
    evaluator = SequentialEvaluator(
        [ConstantEvaluator({"a": 1.0, "b": 0.5}, primary_metric="b"), ConstantEvaluator({"c": 0.25, "d": 0.0})],
        main_score_function=lambda scores: sum(scores) / len(scores),
    )
    assert evaluator(NO_MODEL) == {"a": 1.0, "b": 0.5, "c": 0.25, "d": 0.0, "sequential_score": 0.375}


def test_float_results_and_no_evaluators() -> None:
    assert SequentialEvaluator([ConstantEvaluator(0.7)])(NO_MODEL) == {"evaluator_0": 0.7, "sequential_score": 0.7}
    assert SequentialEvaluator([])(NO_MODEL) == {"sequential_score": 0.0}


def test_clear_errors() -> None:
    with pytest.raises(TypeError, match=r"`evaluators\[1\]` must be an embedforge SentenceEvaluator, found function"):
        SequentialEvaluator([ConstantEvaluator(1.0), lambda model: 1.0])
    evaluator = SequentialEvaluator([ConstantEvaluator({"a": 1.0}, primary_metric="acc")])
    with pytest.raises(ValueError, match=r"declares primary_metric 'acc', which is not among its results \['a'\]"):
        evaluator(NO_MODEL)
