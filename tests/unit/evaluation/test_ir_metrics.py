"""Retrieval metrics against an independent reference on hand-made rankings, and the chunked top-k merge."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from embedforge.evaluation import ir_metrics

# Three queries; "r" marks a relevant document. Query c has relevant documents that are never retrieved.
RANKINGS = [
    ["a1", "x", "a2", "y", "z", "a3"],
    ["x", "y", "b1", "z", "w", "v"],
    ["x", "y", "z", "c1", "w", "v"],
]
RELEVANT = [{"a1", "a2", "a3"}, {"b1"}, {"c1", "c2", "c3", "c4", "c5"}]


def _reference(metric: str, ranking: list[str], relevant: set[str], k: int) -> float:
    """Textbook definitions, one query at a time (binary relevance)."""
    top = ranking[:k]
    flags = [doc in relevant for doc in top]
    if metric == "accuracy":
        return float(any(flags))
    if metric == "precision":
        return sum(flags) / k
    if metric == "recall":
        return sum(flags) / len(relevant)
    if metric == "mrr":
        return next((1 / (rank + 1) for rank, flag in enumerate(flags) if flag), 0.0)
    if metric == "ndcg":
        dcg = sum(1 / math.log2(rank + 2) for rank, flag in enumerate(flags) if flag)
        idcg = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
        return dcg / idcg
    # MAP as sentence-transformers defines it: divided by min(k, number of relevant documents)
    found, total = 0, 0.0
    for rank, flag in enumerate(flags):
        if flag:
            found += 1
            total += found / (rank + 1)
    return total / min(k, len(relevant))


def _ours(metric: str, hits: np.ndarray, num_relevant: np.ndarray, k: int) -> float:
    functions = {
        "accuracy": lambda: ir_metrics.accuracy_at_k(hits, k),
        "precision": lambda: ir_metrics.precision_at_k(hits, k),
        "recall": lambda: ir_metrics.recall_at_k(hits, num_relevant, k),
        "mrr": lambda: ir_metrics.mrr_at_k(hits, k),
        "ndcg": lambda: ir_metrics.ndcg_at_k(hits, num_relevant, k),
        "map": lambda: ir_metrics.average_precision_at_k(hits, num_relevant, k),
    }
    return functions[metric]()


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "mrr", "ndcg", "map"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 6, 10])
def test_metrics_match_the_reference_definitions(metric: str, k: int) -> None:
    hits = ir_metrics.hit_matrix(RANKINGS, RELEVANT, depth=10)
    num_relevant = np.asarray([len(ids) for ids in RELEVANT])
    expected = np.mean([_reference(metric, ranking, rel, k) for ranking, rel in zip(RANKINGS, RELEVANT, strict=True)])
    assert _ours(metric, hits, num_relevant, k) == pytest.approx(expected, abs=1e-12)


def test_hand_computed_values() -> None:
    hits = ir_metrics.hit_matrix(RANKINGS, RELEVANT, depth=6)
    num_relevant = np.asarray([3, 1, 5])
    assert hits.shape == (3, 6)
    assert hits[0].tolist() == [True, False, True, False, False, True]
    assert ir_metrics.accuracy_at_k(hits, 1) == pytest.approx(1 / 3)
    assert ir_metrics.mrr_at_k(hits, 3) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert ir_metrics.mrr_at_k(hits, 4) == pytest.approx((1 + 1 / 3 + 1 / 4) / 3)
    assert ir_metrics.precision_at_k(hits, 10) == pytest.approx((3 / 10 + 1 / 10 + 1 / 10) / 3)  # divides by k
    assert ir_metrics.recall_at_k(hits, num_relevant, 6) == pytest.approx((1 + 1 + 1 / 5) / 3)
    # MAP@2 of query a: precision 1 at rank 1, divided by min(2, 3) = 2
    assert ir_metrics.average_precision_at_k(hits[:1], num_relevant[:1], 2) == pytest.approx(0.5)
    perfect = np.asarray([[True, True, False]])
    assert ir_metrics.ndcg_at_k(perfect, np.asarray([2]), 3) == pytest.approx(1.0)


def _reference_top_k(scores: torch.Tensor, ids: list[str], k: int) -> list[list[str]]:
    """Full ranking by (-score, id), cut at k."""
    return [[doc for _, doc in sorted(zip((-row).tolist(), ids, strict=True))][:k] for row in scores]


@pytest.mark.parametrize("chunk", [1, 3, 7, 50])
def test_merge_top_k_is_independent_of_chunking_and_breaks_ties_by_id(chunk: int) -> None:
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 4, (5, 23), generator=generator).float() / 4  # many ties
    ids = [f"doc{index:02d}" for index in torch.randperm(23, generator=generator).tolist()]
    ranks = torch.tensor(sorted(range(23), key=ids.__getitem__)).argsort()  # rank of each id in sorted order
    best_scores, best_ranks = torch.empty(5, 0), torch.empty(5, 0, dtype=torch.long)
    for start in range(0, 23, chunk):
        best_scores, best_ranks = ir_metrics.merge_top_k(
            best_scores, best_ranks, scores[:, start : start + chunk], ranks[start : start + chunk], k=6
        )
    sorted_ids = sorted(ids)
    ours = [[sorted_ids[rank] for rank in row] for row in best_ranks.tolist()]
    assert ours == _reference_top_k(scores, ids, 6)
    assert torch.all(best_scores[:, :-1] >= best_scores[:, 1:])


def test_merge_top_k_keeps_fewer_when_the_corpus_is_small() -> None:
    scores, ranks = torch.tensor([[0.1, 0.9]]), torch.tensor([1, 0])
    best_scores, best_ranks = ir_metrics.merge_top_k(
        torch.empty(1, 0), torch.empty(1, 0, dtype=torch.long), scores, ranks, k=10
    )
    assert best_ranks.tolist() == [[0, 1]]
    assert best_scores[0].tolist() == pytest.approx([0.9, 0.1])
