"""RerankingEvaluator against sentence-transformers 6.2 on real WikiQA reranking samples (all-MiniLM-L6-v2), plus
reference MRR@k / MAP / NDCG@k computations on hand-made scores and argument errors."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_csv_match, assert_metrics_match, recording_encode

from embedforge.evaluation.reranking import (
    RerankingEvaluator,
    average_precision,
    ndcg_at_k,
    reciprocal_rank_at_k,
)
from embedforge.util import dot_score

SAMPLES_FULL = 15
"""WikiQA test samples (query, positives, negatives) for the parity checks that share one encoding."""
SAMPLES_SMALL = 6
"""WikiQA test samples for the checks that need new encodings (unbatched mode, truncation)."""


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> list[dict[str, Any]]:
    with open(shared_data / "wikiqa" / "reranking_test.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line, _ in zip(handle, range(SAMPLES_FULL), strict=False)]


def _run_both(
    samples: Any, kwargs: dict[str, Any], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    st_kwargs = dict(kwargs)
    if kwargs.get("similarity_fct") is dot_score:
        from sentence_transformers.util import dot_score as st_dot_score

        st_kwargs["similarity_fct"] = st_dot_score
    ours = RerankingEvaluator(samples, **kwargs)
    theirs = st_evaluation.RerankingEvaluator(samples, **st_kwargs)
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=3, steps=100)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=3, steps=100)
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.at_k == theirs.at_k
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Reranking"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")
    return ours, theirs, our_metrics, their_metrics


def test_default_arguments_match_sentence_transformers(
    samples: list[dict[str, Any]], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours, _, metrics, _ = _run_both(samples, {"name": "wikiqa"}, tmp_path, our_model, st_model, st_evaluation)
    assert list(metrics) == ["wikiqa_map", "wikiqa_mrr@10", "wikiqa_ndcg@10"]
    assert ours.primary_metric == "wikiqa_ndcg@10"
    assert 0.5 < metrics["wikiqa_map"] < 1  # a real model on real data
    assert metrics["wikiqa_ndcg@10"] >= metrics["wikiqa_map"] - 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"at_k": 3, "name": "wikiqa"},
        {"mrr_at_k": 5},
        {"similarity_fct": dot_score},
    ],
    ids=["unnamed", "at_k=3", "mrr_at_k=5", "dot_score"],
)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any],
    samples: list[dict[str, Any]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    _run_both(samples, kwargs, tmp_path, our_model, st_model, st_evaluation)


@pytest.mark.parametrize(
    "kwargs",
    [{"use_batched_encoding": False}, {"truncate_dim": 128, "name": "wikiqa-128"}],
    ids=["unbatched", "truncate_dim"],
)
def test_new_encodings_match_sentence_transformers(
    kwargs: dict[str, Any],
    samples: list[dict[str, Any]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    _run_both(samples[:SAMPLES_SMALL], kwargs, tmp_path, our_model, st_model, st_evaluation)


def test_unbatched_equals_batched(samples: list[dict[str, Any]], our_model: Any) -> None:
    few = samples[:SAMPLES_SMALL]
    batched = RerankingEvaluator(few)(our_model)
    unbatched = RerankingEvaluator(few, use_batched_encoding=False)(our_model)
    assert_metrics_match(unbatched, batched, atol=1e-5)


def test_skipped_samples_and_single_texts_match_sentence_transformers(
    samples: list[dict[str, Any]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    few = [dict(sample) for sample in samples[:SAMPLES_SMALL]]
    few[1]["positive"] = few[1]["positive"][0]  # a single text instead of a list
    few[2]["positive"] = []  # skipped: nothing relevant to find
    few[3]["negative"] = []  # skipped: nothing to rank against
    as_dict = {f"q{index}": sample for index, sample in enumerate(few)}  # a dict of samples: its values are used
    with caplog.at_level(logging.WARNING):
        ours, _, _, _ = _run_both(as_dict, {}, tmp_path, our_model, st_model, st_evaluation)
    assert f"skipping 2 of {SAMPLES_SMALL} samples" in caplog.text
    assert "indices [2, 3]" in caplog.text
    assert len(ours.samples) == SAMPLES_SMALL - 2
    assert ours.samples[1]["positive"] == [few[1]["positive"]]


def test_each_distinct_text_is_encoded_once_per_role(samples: list[dict[str, Any]], our_model: Any) -> None:
    few = samples[:SAMPLES_SMALL]
    repeated = [*few, few[0]]  # the first query and its documents twice
    with recording_encode(our_model) as calls:
        RerankingEvaluator(repeated)(our_model)
    assert len(calls) == 2  # encode_query for the queries, encode_document for the documents
    queries, documents = calls
    assert sorted(queries) == sorted({sample["query"] for sample in few})
    assert sorted(documents) == sorted({doc for sample in few for doc in sample["positive"] + sample["negative"]})


def _reference_reciprocal_rank(relevant: list[int], scores: list[float], k: int) -> float:
    ranking = sorted(range(len(scores)), key=lambda index: -scores[index])
    for rank, index in enumerate(ranking[:k], start=1):
        if relevant[index]:
            return 1 / rank
    return 0.0


def _reference_average_precision(relevant: list[int], scores: list[float]) -> float:
    """Mean over the relevant documents of the precision among the documents scoring at least as high."""
    precisions = []
    for index, is_relevant in enumerate(relevant):
        if is_relevant:
            retrieved = [other for other, score in enumerate(scores) if score >= scores[index]]
            precisions.append(sum(relevant[other] for other in retrieved) / len(retrieved))
    return sum(precisions) / len(precisions)


def _reference_ndcg(relevant: list[int], scores: list[float], k: int) -> float:
    """Without ties: DCG of the top k over the DCG of the ideal order."""
    ranking = sorted(range(len(scores)), key=lambda index: -scores[index])
    dcg = sum(relevant[index] / math.log2(rank + 2) for rank, index in enumerate(ranking[:k]))
    ideal = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(sorted(relevant, reverse=True)[:k]))
    return dcg / ideal


def test_metrics_by_hand() -> None:
    relevant = np.array([True, True, False, False, False])
    scores = np.array([0.2, 0.7, 0.9, 0.1, 0.5])  # ranking: neg, pos, neg, pos, neg
    assert reciprocal_rank_at_k(relevant, scores, 10) == 0.5
    assert reciprocal_rank_at_k(relevant, scores, 1) == 0.0
    assert average_precision(relevant, scores) == pytest.approx((1 / 2 + 2 / 4) / 2)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(relevant, scores, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert ndcg_at_k(relevant, scores, 2) == pytest.approx((1 / math.log2(3)) / ideal)
    # Tied scores: precision is read after the whole tie; NDCG gives each tied rank the tie's mean gain.
    # neg, then {pos, neg} tied, then pos, neg: the tie's precision is 1/3, read after the whole tie.
    assert average_precision(relevant, np.array([0.5, 0.1, 0.9, 0.0, 0.5])) == pytest.approx((1 / 3 + 2 / 4) / 2)
    tied = np.array([0.5, 0.9, 0.5, 0.1, 0.5])  # pos, then {pos, neg, neg} tied, then neg
    assert average_precision(relevant, tied) == pytest.approx((1 / 1 + 2 / 4) / 2)
    # NDCG: each tied rank (1, 2, 3) gets the tie's mean gain 1/3.
    tied_dcg = 1 + sum(1 / 3 / math.log2(rank + 2) for rank in (1, 2, 3))
    assert ndcg_at_k(relevant, tied, 10) == pytest.approx(tied_dcg / ideal)
    assert ndcg_at_k(relevant, tied, 2) == pytest.approx((1 + 1 / 3 / math.log2(3)) / ideal)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_against_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        size = int(rng.integers(2, 20))
        relevant = rng.random(size) < 0.3
        relevant[int(rng.integers(size))] = True
        scores = rng.normal(size=size)  # no ties
        k = int(rng.integers(1, 12))
        assert reciprocal_rank_at_k(relevant, scores, k) == pytest.approx(
            _reference_reciprocal_rank(list(relevant), list(scores), k)
        )
        assert average_precision(relevant, scores) == pytest.approx(
            _reference_average_precision(list(relevant), list(scores))
        )
        assert ndcg_at_k(relevant, scores, k) == pytest.approx(_reference_ndcg(list(relevant), list(scores), k))
        tied = np.round(scores)  # ties: the tie-aware reference still holds for average precision
        assert average_precision(relevant, tied) == pytest.approx(
            _reference_average_precision(list(relevant), list(tied))
        )


def test_tied_metrics_equal_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(300):
        size = int(rng.integers(2, 15))
        relevant = np.zeros(size, dtype=bool)
        relevant[: int(rng.integers(1, size))] = True
        scores = rng.integers(0, 4, size) / 3
        k = int(rng.integers(1, 12))
        assert average_precision(relevant, scores) == pytest.approx(metrics.average_precision_score(relevant, scores))
        assert ndcg_at_k(relevant, scores, k) == pytest.approx(metrics.ndcg_score([relevant], [scores], k=k))


def test_primary_metric_and_config_before_the_first_call(caplog: pytest.LogCaptureFixture) -> None:
    sample = {"query": "q", "positive": ["p"], "negative": ["n"]}
    evaluator = RerankingEvaluator([sample], name="dev", at_k=5, truncate_dim=64)
    assert evaluator.primary_metric == "dev_ndcg@5"
    assert evaluator.greater_is_better
    assert evaluator.get_config_dict() == {"at_k": 5, "truncate_dim": 64}
    assert evaluator.csv_file == "RerankingEvaluator_dev_results_@5.csv"
    with caplog.at_level(logging.WARNING):
        deprecated = RerankingEvaluator([sample], at_k=5, mrr_at_k=3)
    assert deprecated.at_k == 3
    assert "`mrr_at_k` is deprecated" in caplog.text


SAMPLE = {"query": "q", "positive": ["p"], "negative": ["n"]}


@pytest.mark.parametrize(
    ("samples_arg", "kwargs", "pattern"),
    [
        ([], {}, r"`samples` must hold at least one sample, found none"),
        ("query", {}, r"`samples` must be a list of dicts with 'query', 'positive' and 'negative', found str"),
        ([SAMPLE, ("q", ["p"], ["n"])], {}, r"`samples\[1\]` must be a dict with 'query', 'positive' and 'negative'"),
        ([{"query": "q", "positive": ["p"]}], {}, r"`samples\[0\]` lacks the key\(s\) \['negative'\]"),
        ([{"question": "q", "pos": ["p"], "negative": []}], {}, r"lacks the key\(s\) \['query', 'positive'\]"),
        ([{**SAMPLE, "query": ["q"]}], {}, r"`samples\[0\]\['query'\]` must be a text, found list"),
        ([{**SAMPLE, "positive": 3}], {}, r"`samples\[0\]\['positive'\]` must be a list of texts, found int"),
        ([{**SAMPLE, "negative": ["n", None]}], {}, r"\['negative'\]` must hold only texts, found NoneType None at"),
        ([{**SAMPLE, "positive": []}], {}, r"every sample in `samples` lacks a positive or a negative document"),
        ([SAMPLE], {"at_k": 0}, r"`at_k` must be a positive integer, found 0"),
        ([SAMPLE], {"mrr_at_k": "10"}, r"`at_k` must be a positive integer, found '10'"),
        ([SAMPLE], {"similarity_fct": "cosine"}, r"`similarity_fct` must be a function of two embedding tensors"),
    ],
)
def test_clear_errors_before_encoding(samples_arg: Any, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        RerankingEvaluator(samples_arg, **kwargs)
    assert str(raised.value).startswith("RerankingEvaluator: ")
