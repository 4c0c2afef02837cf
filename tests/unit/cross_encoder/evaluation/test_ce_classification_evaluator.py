"""CrossEncoderClassificationEvaluator against sentence-transformers 6.2: MRPC (one label) and SNLI (three labels)
pairs scored by the same tiny cross-encoder in both libraries; F1 averages against scikit-learn; input errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ce_eval_helpers import assert_csv_match, assert_metrics_match, mrpc_pairs, nli_pairs

from embedforge.cross_encoder.evaluation import CrossEncoderClassificationEvaluator
from embedforge.cross_encoder.evaluation.classification import f1_scores


def test_one_label_mrpc_matches_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, tmp_path: Path
) -> None:
    ours_model, their_model = ce_models
    pairs, labels = mrpc_pairs(shared_data)
    ours = CrossEncoderClassificationEvaluator(pairs, labels, name="mrpc")
    theirs = st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels, name="mrpc")
    our_metrics = ours(ours_model, output_path=str(tmp_path / "ours"), epoch=1, steps=7)
    their_metrics = theirs(their_model, output_path=str(tmp_path / "st"), epoch=1, steps=7)
    assert_metrics_match(our_metrics, their_metrics)
    assert list(our_metrics) == [
        f"mrpc_{key}"
        for key in ("accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "average_precision")
    ]
    assert ours.primary_metric == theirs.primary_metric == "mrpc_average_precision"
    assert ours.csv_file == theirs.csv_file == "CrossEncoderClassificationEvaluator_mrpc_results.csv"
    assert ours.csv_headers == theirs.csv_headers
    assert ours.description == theirs.description == "Cross Encoder Classification"
    assert ours.get_config_dict() == theirs.get_config_dict() == {}
    assert_csv_match(tmp_path / "ours", tmp_path / "st")
    assert ours_model.model_card_data.eval_metrics == pytest.approx(our_metrics)


def test_three_labels_snli_matches_sentence_transformers(
    ce3_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, tmp_path: Path
) -> None:
    ours_model, their_model = ce3_models
    pairs, labels = nli_pairs(shared_data)
    ours = CrossEncoderClassificationEvaluator(pairs, labels, write_csv=True)
    theirs = st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels)
    our_metrics = ours(ours_model, output_path=str(tmp_path / "ours"))
    their_metrics = theirs(their_model, output_path=str(tmp_path / "st"))
    assert_metrics_match(our_metrics, their_metrics)
    assert list(our_metrics) == ["f1_macro", "f1_micro", "f1_weighted"]
    assert ours.primary_metric == theirs.primary_metric == "f1_macro"
    assert ours.csv_headers == theirs.csv_headers == ["epoch", "steps", "Macro_F1", "Micro_F1", "Weighted_F1"]
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_csv_rows_are_appended_like_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, tmp_path: Path
) -> None:
    pairs, labels = mrpc_pairs(shared_data, 12)
    ours = CrossEncoderClassificationEvaluator(pairs, labels)
    theirs = st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels)
    for epoch, steps in ((0.5, 10), (1, -1), (-1, -1)):
        ours(ce_models[0], output_path=str(tmp_path / "ours"), epoch=epoch, steps=steps)
        theirs(ce_models[1], output_path=str(tmp_path / "st"), epoch=epoch, steps=steps)
    assert ours.csv_file == theirs.csv_file == "CrossEncoderClassificationEvaluator_results.csv"
    assert len((tmp_path / "ours" / ours.csv_file).read_text("utf-8").splitlines()) == 4
    assert_csv_match(tmp_path / "ours", tmp_path / "st")
    CrossEncoderClassificationEvaluator(pairs, labels, write_csv=False)(ce_models[0], str(tmp_path / "no"))
    assert not (tmp_path / "no").exists()


def test_prompt_name_matches_sentence_transformers(
    tiny_ce_path: Path, st_ce_evaluation: Any, shared_data: Path
) -> None:
    from ce_helpers import both_cross_encoders

    ours_model, their_model = both_cross_encoders(tiny_ce_path, prompts={"q": "question: "})
    pairs, labels = mrpc_pairs(shared_data, 40)
    kwargs = {"name": "p", "prompt_name": "q", "batch_size": 8}
    our_metrics = CrossEncoderClassificationEvaluator(pairs, labels, **kwargs)(ours_model)
    their_metrics = st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels, **kwargs)(their_model)
    assert_metrics_match(our_metrics, their_metrics)
    plain = CrossEncoderClassificationEvaluator(pairs, labels, name="p")(ours_model)
    assert plain["p_average_precision"] != our_metrics["p_average_precision"]  # the prompt reached the model


def test_f1_scores_equal_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for classes in (2, 3, 5):
        labels = rng.integers(0, classes, 60)
        predicted = rng.integers(0, classes + 1, 60)  # includes a class absent from the labels
        expected = [metrics.f1_score(labels, predicted, average=average) for average in ("macro", "micro", "weighted")]
        np.testing.assert_allclose(f1_scores(labels, predicted), expected, atol=1e-12)


def test_labels_may_be_integral_floats_or_bools(ce_models: tuple[Any, Any]) -> None:
    pairs = [("a man eats", "someone eats"), ("a dog runs", "the sky is blue"), ("hi", "hello")]
    as_ints = CrossEncoderClassificationEvaluator(pairs, [1, 0, 1])(ce_models[0])
    assert CrossEncoderClassificationEvaluator(pairs, [1.0, 0.0, 1.0])(ce_models[0]) == as_ints
    assert CrossEncoderClassificationEvaluator(pairs, [True, False, True])(ce_models[0]) == as_ints


def test_unknown_keyword_arguments_are_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        CrossEncoderClassificationEvaluator([("a", "b")], [1], threshold=0.3)
    assert "['threshold']" in caplog.text


@pytest.mark.parametrize(
    ("pairs", "labels", "message"),
    [
        ([("a", "b"), ("c", "d")], [1], r"`labels` must have one entry per `sentence_pairs` entry \(2\), found 1"),
        ([], [], "at least one pair"),
        ("a b", [1], "single string"),
        ([("a", "b", "c")], [1], r"sentence_pairs\[0\]` must be a pair of two texts"),
        ([("a", 3)], [1], r"sentence_pairs\[0\]` must be a pair of two texts"),
        ([("a", "b")], [0.5], "must hold class ids"),
        ([("a", "b")], ["1"], "must hold class ids"),
    ],
)
def test_input_errors(pairs: Any, labels: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrossEncoderClassificationEvaluator(pairs, labels)


def test_one_label_model_needs_binary_labels(ce_models: tuple[Any, Any]) -> None:
    evaluator = CrossEncoderClassificationEvaluator([("a", "b"), ("c", "d")], [0, 2])
    with pytest.raises(ValueError, match=r"needs binary labels \(0 or 1\), found the labels \[2\]"):
        evaluator(ce_models[0])
