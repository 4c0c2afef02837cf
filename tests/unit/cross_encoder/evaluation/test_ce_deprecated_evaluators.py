"""The older ``CE*`` evaluator names: each warns and names its replacement, accepts the older documentation's call
signatures (positional ``name``, ``threshold``, ``mrr_at_k``, ``from_input_examples``), and returns the
replacement's metrics, compared with sentence-transformers 6.2's replacement on the same model."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ce_eval_helpers import assert_metrics_match, mrpc_pairs, nli_pairs, stsb_pairs, wikiqa_samples

import embedforge.cross_encoder.evaluation as ce_evaluation
from embedforge.readers import InputExample

PAIRS = [("a man plays guitar", "a man is playing music."), ("a dog runs", "two children eat food.")]

REPLACEMENTS = {
    "CEBinaryAccuracyEvaluator": ("CrossEncoderClassificationEvaluator", (PAIRS, [1, 0], "dev")),
    "CEBinaryClassificationEvaluator": ("CrossEncoderClassificationEvaluator", (PAIRS, [1, 0], "dev")),
    "CEF1Evaluator": ("CrossEncoderClassificationEvaluator", (PAIRS, [1, 0])),
    "CESoftmaxAccuracyEvaluator": ("CrossEncoderClassificationEvaluator", (PAIRS, [1, 0], "dev")),
    "CECorrelationEvaluator": ("CrossEncoderCorrelationEvaluator", (PAIRS, [0.9, 0.1], "dev")),
    "CERerankingEvaluator": (
        "CrossEncoderRerankingEvaluator",
        ([{"query": "q", "positive": ["a"], "negative": ["b"]}], 10, "dev"),
    ),
}


@pytest.mark.parametrize("old_name", sorted(REPLACEMENTS))
def test_each_old_name_warns_and_names_its_replacement(old_name: str) -> None:
    replacement, args = REPLACEMENTS[old_name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluator = getattr(ce_evaluation, old_name)(*args)
    deprecations = [warning for warning in caught if issubclass(warning.category, DeprecationWarning)]
    assert len(deprecations) == 1
    message = str(deprecations[0].message)
    assert old_name in message and f"use {replacement} instead" in message
    assert deprecations[0].filename == __file__  # points at the caller
    assert isinstance(evaluator, getattr(ce_evaluation, replacement))
    assert evaluator.name == ("" if old_name == "CEF1Evaluator" else "dev")


def test_positional_name_gives_the_replacements_metrics(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, tmp_path: Path
) -> None:
    pairs, labels = mrpc_pairs(shared_data, 40)
    reference = st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels, name="dev")
    expected = reference(ce_models[1], output_path=str(tmp_path / "st"))
    for old_name in ("CEBinaryClassificationEvaluator", "CEBinaryAccuracyEvaluator", "CESoftmaxAccuracyEvaluator"):
        with pytest.deprecated_call():
            evaluator = getattr(ce_evaluation, old_name)(pairs, labels, "dev")
        assert_metrics_match(evaluator(ce_models[0], output_path=str(tmp_path / old_name)), expected)
        assert evaluator.primary_metric == reference.primary_metric == "dev_average_precision"
        assert [path.name for path in (tmp_path / old_name).iterdir()] == [reference.csv_file]
    with pytest.deprecated_call():
        f1 = ce_evaluation.CEF1Evaluator(pairs, labels, name="dev", batch_size=8)
    assert_metrics_match(f1(ce_models[0]), expected)


def test_binary_accuracy_threshold_fixes_the_accuracy(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path
) -> None:
    pairs, labels = mrpc_pairs(shared_data, 40)
    scores = ce_models[1].predict(pairs)  # sentence-transformers' scores of the same model
    threshold = float(np.median(scores))
    with pytest.deprecated_call():
        evaluator = ce_evaluation.CEBinaryAccuracyEvaluator(pairs, labels, "dev", threshold=threshold)
    metrics = evaluator(ce_models[0])
    assert metrics["dev_accuracy"] == pytest.approx(np.mean((scores > threshold) == np.asarray(labels)), abs=1e-12)
    assert metrics["dev_accuracy_threshold"] == threshold
    expected = st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels, name="dev")(ce_models[1])
    for key in ("dev_f1", "dev_f1_threshold", "dev_precision", "dev_recall", "dev_average_precision"):
        assert metrics[key] == pytest.approx(expected[key], abs=1e-4)
    with pytest.deprecated_call():  # positional, as in the older documentation
        positional = ce_evaluation.CEBinaryAccuracyEvaluator(pairs, labels, "dev", threshold)
    assert positional.threshold == threshold


def test_binary_accuracy_threshold_needs_one_label(ce3_models: tuple[Any, Any]) -> None:
    with pytest.deprecated_call():
        evaluator = ce_evaluation.CEBinaryAccuracyEvaluator(PAIRS, [1, 0], threshold=0.5)
    with pytest.raises(ValueError, match="needs a model with one output label, found 3 labels"):
        evaluator(ce3_models[0])
    with pytest.deprecated_call(), pytest.raises(ValueError, match="`threshold` must be a number"):
        ce_evaluation.CEBinaryAccuracyEvaluator(PAIRS, [1, 0], threshold="high")


def test_softmax_accuracy_on_three_labels(
    ce3_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path
) -> None:
    pairs, labels = nli_pairs(shared_data, 60)
    with pytest.deprecated_call():
        evaluator = ce_evaluation.CESoftmaxAccuracyEvaluator(pairs, labels, "nli", False)
    metrics = evaluator(ce3_models[0])
    assert not evaluator.write_csv
    assert_metrics_match(
        metrics, st_ce_evaluation.CrossEncoderClassificationEvaluator(pairs, labels, name="nli")(ce3_models[1])
    )
    accuracy = np.mean(np.argmax(ce3_models[1].predict(pairs), axis=1) == np.asarray(labels))
    assert metrics["nli_f1_micro"] == pytest.approx(accuracy, abs=1e-12)  # the older evaluator's accuracy


def test_from_input_examples(ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path) -> None:
    from sentence_transformers import InputExample as STInputExample

    pairs, labels = mrpc_pairs(shared_data, 40)
    ours = [InputExample(texts=list(pair), label=label) for pair, label in zip(pairs, labels, strict=True)]
    theirs = [STInputExample(texts=list(pair), label=label) for pair, label in zip(pairs, labels, strict=True)]
    expected = st_ce_evaluation.CEBinaryClassificationEvaluator.from_input_examples(theirs, name="ex")(ce_models[1])
    for old_name in (
        "CEBinaryAccuracyEvaluator",
        "CEBinaryClassificationEvaluator",
        "CEF1Evaluator",
        "CESoftmaxAccuracyEvaluator",
    ):
        with pytest.deprecated_call():
            evaluator = getattr(ce_evaluation, old_name).from_input_examples(ours, name="ex")
        assert isinstance(evaluator, getattr(ce_evaluation, old_name))
        assert_metrics_match(evaluator(ce_models[0]), expected)
    sts_pairs, scores = stsb_pairs(shared_data, 40)
    examples = [InputExample(texts=list(pair), label=score) for pair, score in zip(sts_pairs, scores, strict=True)]
    with pytest.deprecated_call():
        correlation = ce_evaluation.CECorrelationEvaluator.from_input_examples(examples, name="sts")
    expected = st_ce_evaluation.CrossEncoderCorrelationEvaluator(sts_pairs, scores, name="sts")(ce_models[1])
    assert_metrics_match(correlation(ce_models[0]), expected)
    with pytest.raises(ValueError, match="needs 2 texts, found 1 in example 0"):
        ce_evaluation.CEF1Evaluator.from_input_examples([InputExample(texts=["alone"], label=1)])


def test_correlation_positional_write_csv(ce_models: tuple[Any, Any], tmp_path: Path) -> None:
    with pytest.deprecated_call():
        evaluator = ce_evaluation.CECorrelationEvaluator(PAIRS, [0.9, 0.1], "dev", False)
    evaluator(ce_models[0], output_path=str(tmp_path))
    assert not evaluator.write_csv and not list(tmp_path.iterdir())


def test_reranking_positional_mrr_at_k_and_name(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path
) -> None:
    samples = wikiqa_samples(shared_data, 10)
    expected = st_ce_evaluation.CrossEncoderRerankingEvaluator(samples, at_k=5, name="dev")(ce_models[1])
    with pytest.deprecated_call():
        positional = ce_evaluation.CERerankingEvaluator(samples, 5, "dev")
    with pytest.deprecated_call():
        keywords = ce_evaluation.CERerankingEvaluator(samples, mrr_at_k=5, name="dev")
    with pytest.deprecated_call():
        new_keyword = ce_evaluation.CERerankingEvaluator(samples, at_k=5, name="dev")
    for evaluator in (positional, keywords, new_keyword):
        assert evaluator.at_k == 5 and evaluator.csv_file == "CrossEncoderRerankingEvaluator_dev_results_@5.csv"
        assert_metrics_match(evaluator(ce_models[0]), expected)
    with pytest.deprecated_call(), pytest.raises(ValueError, match="two names of the same cut-off"):
        ce_evaluation.CERerankingEvaluator(samples, mrr_at_k=5, at_k=10)


def test_all_ten_names_are_exported() -> None:
    current = [
        "CrossEncoderClassificationEvaluator",
        "CrossEncoderCorrelationEvaluator",
        "CrossEncoderRerankingEvaluator",
        "CrossEncoderNanoBEIREvaluator",
    ]
    assert sorted(ce_evaluation.__all__) == sorted([*REPLACEMENTS, *current])
    for name in ce_evaluation.__all__:
        assert getattr(ce_evaluation, name).__name__ == name
