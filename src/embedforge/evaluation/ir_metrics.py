"""Retrieval metrics over ranked hit lists, as sentence-transformers 6.2's InformationRetrievalEvaluator defines them.

Every function takes a boolean hit matrix ``hits`` of shape ``(n_queries, depth)``: ``hits[q, r]`` is True when the
document ranked ``r`` (0-based) for query ``q`` is relevant. Rankings shorter than ``depth`` (a corpus smaller than
``depth``) are padded with False. Relevance is binary. Each function returns the mean over queries.

Definitions (``rel_q`` = number of relevant documents of query ``q``, including ones absent from the corpus):

- accuracy@k: 1 if any of the top ``k`` is relevant.
- precision@k: relevant documents in the top ``k``, divided by ``k`` (even when fewer than ``k`` were ranked).
- recall@k: relevant documents in the top ``k``, divided by ``rel_q``.
- MRR@k: ``1 / rank`` of the first relevant document within the top ``k`` (1-based), else 0.
- NDCG@k: ``DCG@k / IDCG@k`` with ``DCG@k = sum_{r<k} hit_r / log2(r + 2)`` and the ideal ranking placing the
  ``rel_q`` relevant documents first.
- MAP@k: ``sum_{r<k, hit_r} precision@(r+1) / min(k, rel_q)``.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "accuracy_at_k",
    "average_precision_at_k",
    "hit_matrix",
    "merge_top_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]


def hit_matrix(
    ranked_ids: Sequence[Sequence[Hashable]], relevant_ids: Sequence[Collection[Hashable]], depth: int
) -> np.ndarray:
    """Mark which ranked documents are relevant.

    Args:
        ranked_ids: Per query, document ids from best to worst (at least the first ``depth`` are used).
        relevant_ids: Per query, the ids of its relevant documents.
        depth: Number of ranks to keep.

    Returns:
        Boolean array ``(n_queries, depth)``, False past the end of a ranking.
    """
    hits = np.zeros((len(ranked_ids), depth), dtype=bool)
    for row, (ranking, relevant) in enumerate(zip(ranked_ids, relevant_ids, strict=True)):
        for rank, doc_id in enumerate(ranking[:depth]):
            hits[row, rank] = doc_id in relevant
    return hits


def _top(hits: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns of ``hits``, padded with False when ``hits`` has fewer."""
    if hits.shape[1] >= k:
        return hits[:, :k]
    return np.pad(hits, ((0, 0), (0, k - hits.shape[1])))


def accuracy_at_k(hits: np.ndarray, k: int) -> float:
    """Share of queries with at least one relevant document in the top ``k``.

    Args:
        hits: ``(n_queries, depth)`` boolean hit matrix.
        k: Cut-off.

    Returns:
        Mean accuracy@k.
    """
    return float(_top(hits, k).any(axis=1).mean())


def precision_at_k(hits: np.ndarray, k: int) -> float:
    """Mean of (relevant documents in the top ``k``) / ``k``.

    Args:
        hits: ``(n_queries, depth)`` boolean hit matrix.
        k: Cut-off.

    Returns:
        Mean precision@k.
    """
    return float((_top(hits, k).sum(axis=1) / k).mean())


def recall_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> float:
    """Mean of (relevant documents in the top ``k``) / (relevant documents of the query).

    Args:
        hits: ``(n_queries, depth)`` boolean hit matrix.
        num_relevant: ``(n_queries,)`` number of relevant documents per query (each at least 1).
        k: Cut-off.

    Returns:
        Mean recall@k.
    """
    return float((_top(hits, k).sum(axis=1) / num_relevant).mean())


def mrr_at_k(hits: np.ndarray, k: int) -> float:
    """Mean reciprocal rank of the first relevant document within the top ``k`` (0 when there is none).

    Args:
        hits: ``(n_queries, depth)`` boolean hit matrix.
        k: Cut-off.

    Returns:
        Mean MRR@k.
    """
    top = _top(hits, k)
    first = top.argmax(axis=1)
    reciprocal = np.where(top.any(axis=1), 1.0 / (first + 1), 0.0)
    return float(reciprocal.mean())


def ndcg_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> float:
    """Mean binary-relevance NDCG@k (ideal ranking: all relevant documents first).

    Args:
        hits: ``(n_queries, depth)`` boolean hit matrix.
        num_relevant: ``(n_queries,)`` number of relevant documents per query (each at least 1).
        k: Cut-off.

    Returns:
        Mean NDCG@k.
    """
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = (_top(hits, k) * discounts).sum(axis=1)
    ideal_cumulative = np.cumsum(discounts)
    idcg = ideal_cumulative[np.minimum(np.asarray(num_relevant), k) - 1]
    return float((dcg / idcg).mean())


def average_precision_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> float:
    """Mean average precision: summed precision at each relevant rank within ``k``, over ``min(k, relevant)``.

    Args:
        hits: ``(n_queries, depth)`` boolean hit matrix.
        num_relevant: ``(n_queries,)`` number of relevant documents per query (each at least 1).
        k: Cut-off.

    Returns:
        MAP@k.
    """
    top = _top(hits, k)
    precision_at_rank = np.cumsum(top, axis=1) / np.arange(1, k + 1)
    summed = (precision_at_rank * top).sum(axis=1)
    return float((summed / np.minimum(np.asarray(num_relevant), k)).mean())


def merge_top_k(
    best_scores: Tensor, best_ranks: Tensor, scores: Tensor, ranks: Tensor, k: int
) -> tuple[Tensor, Tensor]:
    """Keep, per query, the ``k`` best documents of a running ranking and a new chunk of scores.

    Documents are ordered by descending score, ties by ascending ``rank`` (the position of the document id in the
    sorted list of all corpus ids), so the result does not depend on how the corpus is split into chunks. Memory
    is ``O(n_queries * (k + chunk))``.

    Args:
        best_scores: ``(n_queries, m)`` scores of the running ranking (``m`` may be 0).
        best_ranks: ``(n_queries, m)`` id ranks of the running ranking.
        scores: ``(n_queries, chunk)`` scores of the new chunk.
        ranks: ``(chunk,)`` id ranks of the chunk's documents.
        k: Documents to keep.

    Returns:
        Scores and id ranks ``(n_queries, min(k, m + chunk))``, best first.
    """
    chunk_order = torch.argsort(ranks)
    scores, ranks = scores[:, chunk_order], ranks[chunk_order]
    keep = min(k, scores.shape[1])
    values, indices = torch.topk(scores, keep, dim=1)
    boundary = values[:, -1:]
    tied_rows = ((scores >= boundary).sum(dim=1) > keep).nonzero().flatten()
    if len(tied_rows) > 0:
        # topk breaks ties arbitrarily: rows with ties at the cut-off take the lowest-rank (ascending id) ones.
        indices[tied_rows] = torch.sort(scores[tied_rows], dim=1, descending=True, stable=True).indices[:, :keep]
        values = scores.gather(1, indices)
    all_scores = torch.cat([best_scores, values], dim=1)
    all_ranks = torch.cat([best_ranks, ranks[indices]], dim=1)
    by_rank = torch.argsort(all_ranks, dim=1, stable=True)
    all_scores, all_ranks = all_scores.gather(1, by_rank), all_ranks.gather(1, by_rank)
    by_score = torch.argsort(all_scores, dim=1, descending=True, stable=True)[:, :k]
    return all_scores.gather(1, by_score), all_ranks.gather(1, by_score)
