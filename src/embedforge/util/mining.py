"""Paraphrase mining: the highest-scoring pairs among a collection of texts or embeddings."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from embedforge.util.dense_similarity import cos_sim
from embedforge.util.tensors import ArrayLike, _convert_to_tensor

__all__ = ["SupportsEncode", "paraphrase_mining", "paraphrase_mining_embeddings"]

ScoreFunction = Callable[[Tensor, Tensor], Tensor]
"""A function mapping ``(n_a, dim)`` and ``(n_b, dim)`` embeddings to an ``(n_a, n_b)`` score matrix."""


class SupportsEncode(Protocol):
    """Any model that embeds texts the way ``SentenceTransformer.encode`` does.

    Only the keyword arguments below are passed. The return type is left open because ``encode`` methods usually
    return a union over their ``convert_to_*`` options; with ``convert_to_tensor=True`` the result must be a tensor
    of shape ``(len(sentences), dim)``.
    """

    def encode(
        self,
        sentences: list[str],
        /,
        *,
        show_progress_bar: bool,
        batch_size: int,
        convert_to_tensor: bool,
        truncate_dim: int | None,
        prompt_name: str | None,
        prompt: str | None,
    ) -> Any:
        """Embed ``sentences`` into a tensor of shape ``(len(sentences), dim)``."""
        ...


def paraphrase_mining(
    model: SupportsEncode,
    sentences: list[str],
    show_progress_bar: bool = False,
    batch_size: int = 32,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: ScoreFunction = cos_sim,
    truncate_dim: int | None = None,
    prompt_name: str | None = None,
    prompt: str | None = None,
) -> list[list[float | int]]:
    """Embed ``sentences`` with ``model`` and return the most similar pairs among them.

    Args:
        model: Any object with a ``SentenceTransformer``-style ``encode`` method (see :class:`SupportsEncode`).
        sentences: The texts to compare with each other.
        show_progress_bar: Show a progress bar while encoding.
        batch_size: Number of texts encoded at once.
        query_chunk_size: Number of texts whose neighbours are searched at once; lower it to save memory.
        corpus_chunk_size: Number of texts each query is scored against at once; lower it to save memory.
        max_pairs: Maximum number of pairs returned.
        top_k: Number of neighbours kept per text before the pairs are merged.
        score_function: Symmetric score of ``(n_a, dim)`` against ``(n_b, dim)`` embeddings, ``(n_a, n_b)`` out.
        truncate_dim: Truncate the embeddings to this many dimensions; ``None`` keeps the model's setting.
        prompt_name: Name of a prompt from the model's ``prompts`` to prepend; ignored if ``prompt`` is given.
        prompt: Raw text to prepend to every sentence before encoding.

    Returns:
        Triplets ``[score, i, j]`` with ``i < j`` indexing ``sentences``, by decreasing score.
    """
    embeddings = model.encode(
        sentences,
        show_progress_bar=show_progress_bar,
        batch_size=batch_size,
        convert_to_tensor=True,
        truncate_dim=truncate_dim,
        prompt_name=prompt_name,
        prompt=prompt,
    )
    return paraphrase_mining_embeddings(
        embeddings,
        query_chunk_size=query_chunk_size,
        corpus_chunk_size=corpus_chunk_size,
        max_pairs=max_pairs,
        top_k=top_k,
        score_function=score_function,
    )


def _top_neighbours(
    queries: Tensor, embeddings: Tensor, corpus_chunk_size: int, k: int, score_function: ScoreFunction
) -> tuple[list[list[float]], list[list[int]]]:
    """Each query's ``k`` best-scoring rows of ``embeddings``, merged over corpus chunks.

    Args:
        queries: Tensor of shape ``(n_queries, dim)``.
        embeddings: Tensor of shape ``(n, dim)``, scored ``corpus_chunk_size`` rows at a time.
        corpus_chunk_size: Number of rows of ``embeddings`` scored at once.
        k: Number of neighbours to keep per query (fewer if ``n`` is smaller).
        score_function: Maps ``(n_a, dim)`` and ``(n_b, dim)`` to an ``(n_a, n_b)`` score matrix.

    Returns:
        ``(scores, indices)``, each of shape ``(n_queries, min(k, n))``, by decreasing score.
    """
    best_values: Tensor | None = None
    best_indices: Tensor | None = None
    for corpus_start in range(0, len(embeddings), corpus_chunk_size):
        scores = score_function(queries, embeddings[corpus_start : corpus_start + corpus_chunk_size]).detach()
        chunk_values, chunk_indices = torch.topk(scores, min(k, scores.shape[1]), dim=1, largest=True)
        chunk_indices = chunk_indices + corpus_start
        if best_values is None or best_indices is None:
            best_values, best_indices = chunk_values, chunk_indices
            continue
        values = torch.cat([best_values, chunk_values], dim=1)
        indices = torch.cat([best_indices, chunk_indices], dim=1)
        best_values, positions = torch.topk(values, min(k, values.shape[1]), dim=1)
        best_indices = torch.gather(indices, 1, positions)
    if best_values is None or best_indices is None:
        return [], []
    return best_values.cpu().tolist(), best_indices.cpu().tolist()


def paraphrase_mining_embeddings(
    embeddings: ArrayLike,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: ScoreFunction = cos_sim,
) -> list[list[float | int]]:
    """Return the highest-scoring pairs among ``embeddings``.

    Every embedding is compared with all others; its ``top_k`` best neighbours (itself excluded) become candidate
    pairs, of which the ``max_pairs`` best distinct unordered pairs are kept.

    Args:
        embeddings: Embeddings of shape ``(n, dim)``.
        query_chunk_size: Number of embeddings whose neighbours are searched at once; lower it to save memory.
        corpus_chunk_size: Number of embeddings each query is scored against at once; lower it to save memory.
        max_pairs: Maximum number of pairs returned.
        top_k: Number of neighbours kept per embedding.
        score_function: Symmetric score of ``(n_a, dim)`` against ``(n_b, dim)`` embeddings, ``(n_a, n_b)`` out;
            only one direction's score is kept per pair.

    Returns:
        Triplets ``[score, i, j]`` with ``i < j``, by decreasing score.

    Example:
        >>> pairs = paraphrase_mining_embeddings(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]), max_pairs=1)
        >>> pairs[0][1:]
        [0, 2]
    """
    tensor = _convert_to_tensor(embeddings)
    heap: list[tuple[float, int, int]] = []  # min-heap of (score, i, j), i < j, at most max_pairs entries
    queued: set[tuple[int, int]] = set()  # the (i, j) of every pair in the heap
    min_score = float("-inf")

    for query_start in range(0, len(tensor), query_chunk_size):
        queries = tensor[query_start : query_start + query_chunk_size]
        all_scores, all_indices = _top_neighbours(queries, tensor, corpus_chunk_size, top_k + 1, score_function)
        for offset, (scores, indices) in enumerate(zip(all_scores, all_indices, strict=True)):
            i = query_start + offset
            neighbours = [(j, score) for j, score in zip(indices, scores, strict=True) if j != i][:top_k]
            for j, score in neighbours:
                pair = (i, j) if i < j else (j, i)
                if score <= min_score or pair in queued:
                    continue
                queued.add(pair)
                if len(heap) < max_pairs:
                    heapq.heappush(heap, (score, *pair))
                else:
                    evicted = heapq.heappushpop(heap, (score, *pair))
                    queued.discard(evicted[1:])
                    min_score = evicted[0]

    return sorted(([score, i, j] for score, i, j in heap), key=lambda triplet: triplet[0], reverse=True)
