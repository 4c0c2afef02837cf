"""CrossEncoderRerankingEvaluator against sentence-transformers 6.2 on WikiQA test samples (with ``negative``, and
turned into first-stage ``documents`` rankings), scored by the same tiny cross-encoder; the per-sample metrics
against scikit-learn; input errors."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ce_eval_helpers import assert_csv_match, assert_metrics_match, wikiqa_samples

from embedforge.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
from embedforge.cross_encoder.evaluation.reranking import ranking_metrics


def _as_rankings(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The samples as shuffled first-stage rankings; every 4th misses its positives, and one has no positive."""
    rng = random.Random(0)
    rankings = []
    for index, sample in enumerate(samples):
        documents = sample["positive"] + sample["negative"]
        rng.shuffle(documents)
        if index % 4 == 0:
            documents = [document for document in documents if document not in sample["positive"]]
        positive = [] if index == 5 else sample["positive"]
        rankings.append({"query": sample["query"], "positive": positive, "documents": documents})
    return rankings


def test_negative_samples_match_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, tmp_path: Path
) -> None:
    samples = wikiqa_samples(shared_data)
    samples[3] = {**samples[3], "positive": samples[3]["positive"][0]}  # one positive given as a plain text
    ours = CrossEncoderRerankingEvaluator(samples, name="wikiqa")
    theirs = st_ce_evaluation.CrossEncoderRerankingEvaluator(samples, name="wikiqa")
    our_metrics = ours(ce_models[0], output_path=str(tmp_path / "ours"), epoch=1, steps=3)
    their_metrics = theirs(ce_models[1], output_path=str(tmp_path / "st"), epoch=1, steps=3)
    assert_metrics_match(our_metrics, their_metrics)
    assert list(our_metrics) == ["wikiqa_map", "wikiqa_mrr@10", "wikiqa_ndcg@10"]
    assert ours.primary_metric == theirs.primary_metric == "wikiqa_ndcg@10"
    assert ours.csv_file == theirs.csv_file == "CrossEncoderRerankingEvaluator_wikiqa_results_@10.csv"
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict() == {"at_k": 10}
    assert ours.greater_is_better and ours.description == theirs.description == "Cross Encoder Reranking"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


@pytest.mark.parametrize("always_rerank_positives", [True, False])
def test_document_rankings_match_sentence_transformers(
    ce_models: tuple[Any, Any],
    st_ce_evaluation: Any,
    shared_data: Path,
    tmp_path: Path,
    always_rerank_positives: bool,
) -> None:
    samples = _as_rankings(wikiqa_samples(shared_data))
    kwargs = {"at_k": 3, "always_rerank_positives": always_rerank_positives, "name": "rr", "batch_size": 16}
    ours = CrossEncoderRerankingEvaluator(samples, **kwargs)
    theirs = st_ce_evaluation.CrossEncoderRerankingEvaluator(samples, **kwargs)
    our_metrics = ours(ce_models[0], output_path=str(tmp_path / "ours"))
    their_metrics = theirs(ce_models[1], output_path=str(tmp_path / "st"))
    assert_metrics_match(our_metrics, their_metrics)
    assert list(our_metrics) == ["rr_map", "rr_mrr@3", "rr_ndcg@3", "rr_base_map", "rr_base_mrr@3", "rr_base_ndcg@3"]
    assert ours.primary_metric == theirs.primary_metric == "rr_ndcg@3"
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.get_config_dict() == {"at_k": 3, "always_rerank_positives": always_rerank_positives}
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_deprecated_mrr_at_k_and_dict_samples(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any, shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    samples = {index: sample for index, sample in enumerate(wikiqa_samples(shared_data, 12))}
    with caplog.at_level(logging.WARNING):
        ours = CrossEncoderRerankingEvaluator(samples, at_k=7, mrr_at_k=5)
    assert "at_k=5" in caplog.text
    theirs = st_ce_evaluation.CrossEncoderRerankingEvaluator(samples, at_k=7, mrr_at_k=5)
    assert ours.at_k == theirs.at_k == 5 and ours.csv_file == theirs.csv_file
    assert_metrics_match(ours(ce_models[0]), theirs(ce_models[1]))


def test_samples_without_positives_score_zero_like_sentence_transformers(
    ce_models: tuple[Any, Any], st_ce_evaluation: Any
) -> None:
    samples = [
        {"query": "where is the car?", "positive": [], "negative": ["the car is in the street.", "a dog runs."]},
        {"query": "who plays?", "positive": ["a man plays guitar."], "negative": ["rain falls.", "it is cold."]},
    ]
    ours = CrossEncoderRerankingEvaluator(samples)(ce_models[0])
    theirs = st_ce_evaluation.CrossEncoderRerankingEvaluator(samples)(ce_models[1])
    assert_metrics_match(ours, theirs)
    assert ours["map"] <= 0.5


def test_ranking_metrics_equal_scikit_learn_with_ties() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for _ in range(20):
        scores = rng.integers(0, 5, 12).astype(np.float32)  # many ties
        relevant = rng.random(12) < 0.3
        relevant[rng.integers(0, 12)] = True
        mrr, ndcg, ap = ranking_metrics(relevant, scores, 5)
        assert ndcg == pytest.approx(metrics.ndcg_score([relevant.astype(int)], [scores], k=5), abs=1e-12)
        assert ap == pytest.approx(metrics.average_precision_score(relevant.astype(int), scores), abs=1e-12)
        first = np.flatnonzero(relevant[np.argsort(scores)[::-1]][:5])
        assert mrr == (1 / (first[0] + 1) if len(first) else 0.0)


def test_model_with_several_labels_is_refused(ce3_models: tuple[Any, Any]) -> None:
    evaluator = CrossEncoderRerankingEvaluator([{"query": "q", "positive": ["a"], "negative": ["b"]}])
    with pytest.raises(ValueError, match="num_labels=3"):
        evaluator(ce3_models[0])


@pytest.mark.parametrize(
    ("samples", "kwargs", "message"),
    [
        ([], {}, "at least one sample"),
        ("query", {}, "must be a list of dicts"),
        ([["q", "a"]], {}, r"`samples\[0\]` must be a dict"),
        ([{"positive": ["a"], "negative": ["b"]}], {}, r"`samples\[0\]` lacks the key\(s\) \['query'\]"),
        ([{"query": "q", "negative": ["b"]}], {}, r"lacks the key\(s\) \['positive'\]"),
        ([{"query": "q", "positive": ["a"]}], {}, "exactly one of 'negative' and 'documents', found neither"),
        ([{"query": "q", "positive": ["a"], "negative": [], "documents": []}], {}, "found both"),
        ([{"query": 3, "positive": ["a"], "negative": ["b"]}], {}, r"`samples\[0\]\['query'\]` must be a text"),
        ([{"query": "q", "positive": ["a", 3], "negative": ["b"]}], {}, "must hold only texts"),
        ([{"query": "q", "positive": "a", "negative": {"b": 1}}], {}, "must be a list of texts"),
        ([{"query": "q", "positive": ["a"], "negative": ["b"]}], {"at_k": 0}, "`at_k` must be a positive integer"),
        ([{"query": "q", "positive": ["a"], "negative": ["b"]}], {"at_k": "10"}, "`at_k` must be a positive integer"),
        ([{"query": "q", "positive": ["a"], "negative": ["b"]}], {"at_k": True}, "`at_k` must be a positive integer"),
    ],
)
def test_input_errors(samples: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrossEncoderRerankingEvaluator(samples, **kwargs)


def test_cases_sentence_transformers_cannot_evaluate(ce_models: tuple[Any, Any]) -> None:
    """ST 6.2 fails on these (an empty ``documents`` list, a single document to rank); here they are defined."""
    samples = [
        {"query": "who plays?", "positive": ["a man plays guitar."], "documents": []},
        {"query": "who sings?", "positive": ["a woman sings."], "negative": []},
    ]
    reranked = CrossEncoderRerankingEvaluator(samples, name="edge")(ce_models[0])
    assert reranked == {
        "edge_map": 1.0,
        "edge_mrr@10": 1.0,
        "edge_ndcg@10": 1.0,
        "edge_base_map": 0.0,
        "edge_base_mrr@10": 0.0,
        "edge_base_ndcg@10": 0.0,
    }
    only_given = CrossEncoderRerankingEvaluator(samples[:1], always_rerank_positives=False)(ce_models[0])
    assert only_given == {
        "map": 0.0,
        "mrr@10": 0.0,
        "ndcg@10": 0.0,
        "base_map": 0.0,
        "base_mrr@10": 0.0,
        "base_ndcg@10": 0.0,
    }
