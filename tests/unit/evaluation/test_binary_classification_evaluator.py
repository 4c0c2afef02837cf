"""BinaryClassificationEvaluator against sentence-transformers 6.2 on real MRPC paraphrase pairs (all-MiniLM-L6-v2),
and its threshold search against a brute-force reference."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_csv_match, assert_metrics_match, recording_encode

from embedforge.evaluation.binary_classification import BinaryClassificationEvaluator
from embedforge.evaluation.binary_metrics import (
    average_precision,
    best_accuracy_and_threshold,
    best_f1_and_threshold,
    matthews_correlation,
    predict_similar,
)
from embedforge.readers import InputExample
from embedforge.util.similarity_function import SimilarityFunction

MRPC_PAIRS = 40
"""Pairs of mrpc/test.csv used by the parity checks (all of them use the same pairs, so each model embeds them once)."""
MRPC_SMALL = 16
"""Pairs used where the embeddings differ anyway (truncation)."""
ALL_FNS = ["cosine", "dot", "euclidean", "manhattan"]
METRICS = ["accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc"]

Columns = tuple[list[str], list[str], list[int]]


@pytest.fixture(scope="module")
def mrpc(shared_data: Path) -> Columns:
    """The first MRPC_PAIRS pairs of mrpc/test.csv (label 1 = paraphrase)."""
    with open(shared_data / "mrpc" / "test.csv", newline="", encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(MRPC_PAIRS), csv.DictReader(handle), strict=False)]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [int(r["label"]) for r in rows]


def _head(columns: Columns, count: int) -> Columns:
    return columns[0][:count], columns[1][:count], columns[2][:count]


def _run_both(
    columns: Columns,
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    calls: int = 1,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    ours = BinaryClassificationEvaluator(*columns, **kwargs)
    theirs = st_evaluation.BinaryClassificationEvaluator(*columns, **kwargs)
    for step in range(calls):
        our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=1, steps=10 * step)
        their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=1, steps=10 * step)
    return ours, theirs, our_metrics, their_metrics


def test_default_arguments_match_sentence_transformers_on_40_pairs(
    mrpc: Columns, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        mrpc, {}, tmp_path, our_model, st_model, st_evaluation, calls=2
    )
    assert list(our_metrics) == [f"cosine_{metric}" for metric in METRICS]
    assert_metrics_match(our_metrics, their_metrics)
    assert our_metrics["cosine_ap"] > 0.75  # a real model on real paraphrase data
    assert ours.primary_metric == theirs.primary_metric == "cosine_ap"
    assert ours.greater_is_better is theirs.greater_is_better is True
    assert_csv_match(tmp_path / "ours", tmp_path / "st")  # two rows under one header


CASES: list[dict[str, Any]] = [
    {"name": "mrpc"},
    {"name": "mrpc", "similarity_fn_names": ALL_FNS},
    {"similarity_fn_names": ["euclidean"]},
    {"similarity_fn_names": ["manhattan", "dot"]},
    {"name": "mrpc", "truncate_dim": 64, "similarity_fn_names": ["cosine", "euclidean"]},
    {"write_csv": False},
]


def _case_id(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in kwargs.items()) or "default"


@pytest.mark.parametrize("kwargs", CASES, ids=_case_id)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any], mrpc: Columns, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    columns = _head(mrpc, MRPC_SMALL) if "truncate_dim" in kwargs else mrpc
    ours, theirs, our_metrics, their_metrics = _run_both(columns, kwargs, tmp_path, our_model, st_model, st_evaluation)
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Binary Classification"
    if kwargs.get("write_csv", True):
        assert_csv_match(tmp_path / "ours", tmp_path / "st")
    else:
        assert not (tmp_path / "ours").exists()
        assert not (tmp_path / "st").exists()


def test_several_functions_add_max_keys_after_the_per_function_keys(mrpc: Columns, our_model: Any) -> None:
    evaluator = BinaryClassificationEvaluator(*mrpc, similarity_fn_names=["dot", "euclidean"])
    metrics = evaluator(our_model)
    expected = [f"{fn}_{metric}" for fn in ("dot", "euclidean") for metric in METRICS]
    assert list(metrics) == expected + [f"max_{metric}" for metric in METRICS]
    for metric in METRICS:
        assert metrics[f"max_{metric}"] == max(metrics[f"dot_{metric}"], metrics[f"euclidean_{metric}"])
    assert evaluator.primary_metric == "max_ap"


def test_default_function_comes_from_the_model(
    mrpc: Columns, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours = BinaryClassificationEvaluator(*mrpc, name="dev")
    theirs = st_evaluation.BinaryClassificationEvaluator(*mrpc, name="dev")
    assert ours.primary_metric is None  # unknown until the model is seen
    our_before, their_before = our_model.similarity_fn_name, st_model.similarity_fn_name
    try:
        our_model.similarity_fn_name = st_model.similarity_fn_name = "manhattan"
        our_metrics, their_metrics = ours(our_model), theirs(st_model)
    finally:
        our_model.similarity_fn_name, st_model.similarity_fn_name = our_before, their_before
    assert list(our_metrics) == [f"dev_manhattan_{metric}" for metric in METRICS]
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric == "dev_manhattan_ap"


def test_each_distinct_sentence_is_encoded_once(mrpc: Columns, our_model: Any) -> None:
    sentences1, sentences2, labels = _head(mrpc, 20)
    sentences2 = sentences2[:10] + sentences1[10:]  # repeats within and across the two lists
    evaluator = BinaryClassificationEvaluator(sentences1, sentences2, labels, similarity_fn_names=ALL_FNS)
    with recording_encode(our_model) as calls:
        evaluator(our_model)
    assert len(calls) == 1
    assert len(calls[0]) == len(set(calls[0])) == len(set(sentences1) | set(sentences2))


def test_primary_metric_is_known_before_the_first_call_when_functions_are_given() -> None:
    assert BinaryClassificationEvaluator(["a"], ["b"], [1], similarity_fn_names=["dot"]).primary_metric == "dot_ap"
    evaluator = BinaryClassificationEvaluator(["a"], ["b"], [1], name="dev", similarity_fn_names=ALL_FNS)
    assert evaluator.primary_metric == "dev_max_ap"
    members = BinaryClassificationEvaluator(["a"], ["b"], [1], similarity_fn_names=[SimilarityFunction.EUCLIDEAN])
    assert members.similarity_fn_names == ["euclidean"]


def test_from_input_examples() -> None:
    examples = [InputExample(texts=["a", "b"], label=1), InputExample(texts=["c", "d"], label=0)]
    evaluator = BinaryClassificationEvaluator.from_input_examples(examples, name="dev")
    assert (evaluator.sentences1, evaluator.sentences2, evaluator.labels) == (["a", "c"], ["b", "d"], [1, 0])
    assert evaluator.name == "dev"


def test_from_input_examples_names_an_example_with_too_few_texts() -> None:
    with pytest.raises(ValueError, match=r"needs 2 texts, found 1 in example 0"):
        BinaryClassificationEvaluator.from_input_examples([InputExample(texts=["only one"], label=1)])


# ----------------------------------------------------------------------------------- threshold search


def _candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """Every threshold that can split the scores differently: each distinct score, midpoints, and beyond both ends."""
    distinct = np.unique(scores.astype(np.float64))
    midpoints = (distinct[1:] + distinct[:-1]) / 2
    return np.concatenate([[-np.inf, np.inf], distinct, midpoints])


def _confusion(scores: np.ndarray, labels: np.ndarray, threshold: float, high: bool) -> tuple[int, int, int, int]:
    predicted = scores >= threshold if high else scores <= threshold
    gold = labels == 1
    return (
        int(np.sum(predicted & gold)),
        int(np.sum(predicted & ~gold)),
        int(np.sum(~predicted & ~gold)),
        int(np.sum(~predicted & gold)),
    )


def _accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float, high: bool) -> float:
    tp, _, tn, _ = _confusion(scores, labels, threshold, high)
    return (tp + tn) / len(labels)


def _f1(scores: np.ndarray, labels: np.ndarray, threshold: float, high: bool) -> tuple[float, float, float]:
    tp, fp, _, fn = _confusion(scores, labels, threshold, high)
    if tp == 0:
        return 0.0, 0.0, 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall), precision, recall


def _hand_made_scores(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores with many ties (a few distinct values), float32 like the evaluator's, and labels related to them."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 40))
    scores = (rng.integers(-6, 7, size) / 4 + rng.normal(0, 0.1, size) * (rng.random(size) < 0.3)).astype(np.float32)
    labels = (scores + rng.normal(0, 0.8, size) > 0).astype(np.int64)
    return scores, labels


SEEDS = range(60)


@pytest.mark.parametrize("high", [True, False], ids=["similarity", "distance"])
def test_best_accuracy_threshold_matches_brute_force_over_all_thresholds(high: bool) -> None:
    for seed in SEEDS:
        scores, labels = _hand_made_scores(seed)
        accuracy, threshold = best_accuracy_and_threshold(scores, labels, high)
        brute = max(_accuracy(scores, labels, t, high) for t in _candidate_thresholds(scores))
        assert accuracy == pytest.approx(brute, abs=1e-12), seed
        assert _accuracy(scores, labels, threshold, high) == pytest.approx(accuracy, abs=1e-12), seed


@pytest.mark.parametrize("high", [True, False], ids=["similarity", "distance"])
def test_best_f1_threshold_matches_brute_force_over_all_thresholds(high: bool) -> None:
    for seed in SEEDS:
        scores, labels = _hand_made_scores(seed)
        f1, precision, recall, threshold = best_f1_and_threshold(scores, labels, high)
        brute = max(_f1(scores, labels, t, high)[0] for t in _candidate_thresholds(scores))
        assert f1 == pytest.approx(brute, abs=1e-12), seed
        assert _f1(scores, labels, threshold, high) == pytest.approx((f1, precision, recall), abs=1e-12), seed


@pytest.mark.parametrize("high", [True, False], ids=["similarity", "distance"])
def test_threshold_search_picks_the_same_threshold_as_sentence_transformers(high: bool, st_evaluation: Any) -> None:
    theirs = st_evaluation.BinaryClassificationEvaluator
    cases = [_hand_made_scores(seed) for seed in SEEDS]
    cases += [
        (np.array([0.5, 0.5, 0.5], np.float32), np.array([1, 0, 1])),  # one tie group
        (np.array([0.9, 0.2, 0.4], np.float32), np.array([0, 0, 0])),  # no similar pair
        (np.array([0.9, 0.2, 0.4], np.float32), np.array([1, 1, 1])),  # no dissimilar pair
        (np.array([1.0, np.nextafter(np.float32(1), np.float32(2))], np.float32), np.array([0, 1])),  # rounding
        ([0.3, 0.7, 0.1, 0.7], [1, 1, 0, 0]),  # plain lists
    ]
    for scores, labels in cases:
        ours_accuracy = BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, high)
        assert ours_accuracy == theirs.find_best_acc_and_threshold(scores, labels, high)  # bit for bit
        ours_f1 = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, high)
        assert ours_f1 == theirs.find_best_f1_and_threshold(scores, labels, high)
    assert best_accuracy_and_threshold([], [], high) == theirs.find_best_acc_and_threshold([], [], high)


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")  # sklearn, on all-negative predictions
def test_average_precision_and_mcc_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    for seed in SEEDS:
        scores, labels = _hand_made_scores(seed)
        if labels.any():
            expected = metrics.average_precision_score(labels, scores)
            assert average_precision(labels, scores) == pytest.approx(expected, abs=1e-12), seed
        threshold = best_f1_and_threshold(scores, labels, True)[3]
        predicted = predict_similar(scores, threshold, True)
        expected = metrics.matthews_corrcoef(labels, predicted)
        assert matthews_correlation(labels, predicted) == pytest.approx(expected, abs=1e-12), seed
    assert average_precision([0, 0], [0.1, 0.2]) == 0.0


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((["a", "b"], ["c"], [1, 0]), {}, r"`sentences2` must have one entry per `sentences1` entry \(2\), found 1"),
        ((["a", "b"], ["c", "d"], [1]), {}, r"`labels` must have one entry per `sentences1` entry \(2\), found 1"),
        (([], [], []), {}, r"`sentences1` must hold at least one text, found an empty list"),
        ((["a"], [], []), {}, r"`sentences2` must hold at least one text, found an empty list"),
        ((["a", 3], ["b", "c"], [1, 0]), {}, r"`sentences1` must hold only strings, found int 3 at index 1"),
        (("ab", ["c", "d"], [1, 0]), {}, r"`sentences1` must be a list of texts, found a single string"),
        ((["a", "b"], ["c", "d"], [1, 2]), {}, r"`labels` must hold only 0 \(dissimilar pair\) or 1 .* 2 at index 1"),
        ((["a", "b"], ["c", "d"], [1, "0"]), {}, r"`labels` must hold only 0 .* found str '0' at index 1"),
        ((["a", "b"], ["c", "d"], [0.5, 1]), {}, r"found float 0.5 at index 0. Map the labels to 0/1"),
        ((["a"], ["c"], [1]), {"similarity_fn_names": ["cosine", "l2"]}, r"found unknown \['l2'\]"),
        ((["a"], ["c"], [1]), {"similarity_fn_names": ["dot", "dot"]}, r"must not repeat a name"),
    ],
)
def test_clear_errors_before_encoding(args: tuple, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        BinaryClassificationEvaluator(*args, **kwargs)
    assert str(raised.value).startswith("BinaryClassificationEvaluator: ")


def test_boolean_and_float_labels_are_accepted_as_sentence_transformers_does() -> None:
    evaluator = BinaryClassificationEvaluator(["a", "b", "c"], ["d", "e", "f"], [True, 0.0, np.int64(1)])
    assert evaluator.labels == [1, 0, 1]
