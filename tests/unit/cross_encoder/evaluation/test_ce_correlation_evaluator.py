"""CrossEncoderCorrelationEvaluator against sentence-transformers 6.2 on STSb test pairs, scored by the same tiny
cross-encoder in both libraries; InputExamples; input errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ce_eval_helpers import assert_csv_match, assert_metrics_match, stsb_pairs

from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator
from embedforge.readers import InputExample


def test_stsb_matches_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, tmp_path: Path
) -> None:
    ours_model, their_model = ce_models
    pairs, scores = stsb_pairs(shared_data)
    ours = CrossEncoderCorrelationEvaluator(pairs, scores, "sts-test", batch_size=16)
    theirs = st_ce_evaluation.CrossEncoderCorrelationEvaluator(pairs, scores, "sts-test", batch_size=16)
    assert ours.primary_metric == "sts-test_spearman"  # known before the first call
    our_metrics = ours(ours_model, output_path=str(tmp_path / "ours"), epoch=2, steps=-1)
    their_metrics = theirs(their_model, output_path=str(tmp_path / "st"), epoch=2, steps=-1)
    assert_metrics_match(our_metrics, their_metrics)
    assert list(our_metrics) == ["sts-test_pearson", "sts-test_spearman"]
    assert ours.primary_metric == theirs.primary_metric
    assert ours.csv_file == theirs.csv_file == "CrossEncoderCorrelationEvaluator_sts-test_results.csv"
    assert ours.csv_headers == theirs.csv_headers
    assert ours.description == theirs.description == "Cross Encoder Correlation"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_from_input_examples_matches_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path
) -> None:
    from sentence_transformers import InputExample as STInputExample

    pairs, scores = stsb_pairs(shared_data, 50)
    ours = CrossEncoderCorrelationEvaluator.from_input_examples(
        [InputExample(texts=list(pair), label=score) for pair, score in zip(pairs, scores, strict=True)], name="ex"
    )
    theirs = st_ce_evaluation.CrossEncoderCorrelationEvaluator.from_input_examples(
        [STInputExample(texts=list(pair), label=score) for pair, score in zip(pairs, scores, strict=True)], name="ex"
    )
    assert_metrics_match(ours(ce_models[0]), theirs(ce_models[1]))


@pytest.mark.filterwarnings("ignore:An input array is constant")
def test_constant_predictions_give_nan_like_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any
) -> None:
    pairs = [("same", "pair")] * 3
    ours = CrossEncoderCorrelationEvaluator(pairs, [0.1, 0.5, 0.9])(ce_models[0])
    theirs = st_ce_evaluation.CrossEncoderCorrelationEvaluator(pairs, [0.1, 0.5, 0.9])(ce_models[1])
    assert_metrics_match(ours, theirs)


@pytest.mark.parametrize(
    ("pairs", "scores", "message"),
    [
        ([("a", "b"), ("c", "d")], [0.5], r"`scores` must have one entry per `sentence_pairs` entry \(2\), found 1"),
        ([], [], "at least one pair"),
        ([["a"]], [0.5], r"sentence_pairs\[0\]` must be a pair of two texts"),
        ([("a", "b")], ["high"], "`scores` must hold numbers"),
    ],
)
def test_input_errors(pairs: Any, scores: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrossEncoderCorrelationEvaluator(pairs, scores)


def test_model_with_several_labels_is_refused(ce3_models: tuple[Any, Any]) -> None:
    evaluator = CrossEncoderCorrelationEvaluator([("a", "b"), ("c", "d")], [0.1, 0.9])
    with pytest.raises(ValueError, match="num_labels=3"):
        evaluator(ce3_models[0])
