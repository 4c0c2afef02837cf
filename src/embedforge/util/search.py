"""Exact top-k semantic search of query embeddings against a corpus of embeddings, in memory-bounded chunks."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import islice
from operator import itemgetter

import torch
from torch import Tensor

from embedforge.util.dense_similarity import cos_sim, dot_score
from embedforge.util.tensors import ArrayLike, _convert_to_batch_tensor, _convert_to_tensor, normalize_embeddings

__all__ = ["information_retrieval", "semantic_search"]

SearchHit = dict[str, int | float]
"""One search result: ``{"corpus_id": int, "score": float}``."""

ScoreFunction = Callable[[Tensor, Tensor], Tensor]
"""A function mapping ``(n_a, dim)`` and ``(n_b, dim)`` embeddings to an ``(n_a, n_b)`` score matrix."""


def _rows(embeddings: Tensor, start: int, end: int) -> Tensor:
    """Rows ``start:end`` of a dense or sparse COO tensor.

    Args:
        embeddings: Tensor of shape ``(n, dim)``.
        start: First row (inclusive).
        end: Last row (exclusive).

    Returns:
        Tensor of shape ``(end - start, dim)`` with the input's layout.
    """
    if embeddings.is_sparse:
        return embeddings.index_select(0, torch.arange(start, end, device=embeddings.device))
    return embeddings[start:end]


def _push_candidates(heap: list[tuple[float, int]], scores: list[float], corpus_ids: list[int], top_k: int) -> None:
    """Merge one chunk's candidates into a query's min-heap of its best ``top_k`` ``(score, corpus_id)`` pairs.

    Args:
        heap: The query's current min-heap; modified in place.
        scores: Candidate scores, shape ``(k,)``.
        corpus_ids: Candidate corpus indices, shape ``(k,)``.
        top_k: The heap's capacity.
    """
    candidates = zip(scores, corpus_ids, strict=True)
    for candidate in islice(candidates, top_k - len(heap)):
        heapq.heappush(heap, candidate)
    for candidate in candidates:
        heapq.heappushpop(heap, candidate)


def _chunk_scores(query_chunk: Tensor, corpus_chunk: Tensor, score_function: ScoreFunction) -> Tensor:
    """Score a chunk of queries against a chunk of the corpus.

    Args:
        query_chunk: Queries of shape ``(n_q, dim)``.
        corpus_chunk: Corpus rows of shape ``(n_c, dim)``; already L2-normalized when ``score_function`` is
            :func:`cos_sim`, so that only the queries need normalizing (the scores are the same).
        score_function: The caller's score function.

    Returns:
        Scores of shape ``(n_q, n_c)``.
    """
    if score_function is cos_sim:
        return dot_score(normalize_embeddings(_convert_to_batch_tensor(query_chunk)), corpus_chunk)
    return score_function(query_chunk, corpus_chunk)


def semantic_search(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 500000,
    top_k: int = 10,
    score_function: ScoreFunction = cos_sim,
) -> list[list[SearchHit]]:
    """Find the ``top_k`` highest-scoring corpus embeddings for every query embedding (exact search).

    The score matrix is computed ``query_chunk_size × corpus_chunk_size`` at a time, so memory stays bounded for
    corpora up to about a million entries. With the default ``cos_sim``, each corpus chunk is normalized once and
    scored by dot product, which gives the same scores as calling ``cos_sim`` per chunk.

    Args:
        query_embeddings: Dense or sparse COO embeddings of shape ``(n_queries, dim)`` or ``(dim,)``.
        corpus_embeddings: Dense or sparse COO embeddings of shape ``(n_corpus, dim)``. The queries are moved to its
            device.
        query_chunk_size: Number of queries scored at once. Larger is faster and uses more memory.
        corpus_chunk_size: Number of corpus entries scored at once. Larger is faster and uses more memory.
        top_k: Number of hits to return per query (fewer if the corpus is smaller).
        score_function: Maps ``(n_a, dim)`` and ``(n_b, dim)`` embeddings to an ``(n_a, n_b)`` score matrix;
            higher means more similar.

    Returns:
        One list per query of up to ``top_k`` dicts ``{"corpus_id": int, "score": float}``, by decreasing score.

    Example:
        >>> hits = semantic_search(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.1]]), top_k=1)
        >>> hits[0][0]["corpus_id"]
        1
    """
    queries = _convert_to_tensor(query_embeddings)
    corpus = _convert_to_tensor(corpus_embeddings)
    if queries.dim() == 1:
        queries = queries.unsqueeze(0)
    if queries.device != corpus.device:
        queries = queries.to(corpus.device)

    heaps: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
    for corpus_start in range(0, len(corpus), corpus_chunk_size):
        corpus_chunk = _rows(corpus, corpus_start, min(corpus_start + corpus_chunk_size, len(corpus)))
        if score_function is cos_sim:
            corpus_chunk = normalize_embeddings(_convert_to_batch_tensor(corpus_chunk))
        for query_start in range(0, len(queries), query_chunk_size):
            query_end = min(query_start + query_chunk_size, len(queries))
            scores = _chunk_scores(_rows(queries, query_start, query_end), corpus_chunk, score_function)
            top_values, top_indices = torch.topk(scores, min(top_k, scores.shape[1]), dim=1, largest=True, sorted=False)
            chunk_scores = top_values.cpu().tolist()
            chunk_ids = (top_indices + corpus_start).cpu().tolist()
            for heap, row_scores, row_ids in zip(heaps[query_start:query_end], chunk_scores, chunk_ids, strict=True):
                _push_candidates(heap, row_scores, row_ids, top_k)

    return [
        [{"corpus_id": corpus_id, "score": score} for score, corpus_id in sorted(heap, key=itemgetter(0), reverse=True)]
        for heap in heaps
    ]


information_retrieval = semantic_search
"""Deprecated alias of :func:`semantic_search`, kept for code written against older sentence-transformers."""
