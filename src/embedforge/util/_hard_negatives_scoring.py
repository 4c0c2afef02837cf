"""Scoring steps of :func:`embedforge.util.mine_hard_negatives`: positives, cross-encoder rescoring, filters, sampling.

Every function works on the candidate matrix of the search: ``scores`` and ``indices`` of shape ``(n_queries, k)``,
where a dropped candidate gets the score ``-inf``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from embedforge.util._hard_negatives_options import ScoreFilters
from embedforge.util._hard_negatives_search import MiningTexts

if TYPE_CHECKING:
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.model.sentence_transformer import SentenceTransformer

CROSS_ENCODER_PAIRS_PER_CALL = 8192
"""About this many (query, candidate) pairs go to one ``CrossEncoder.predict`` call (whole queries at a time)."""


@dataclass(frozen=True)
class FilterCount:
    """How many candidates one filter dropped, and which share of the candidates left before it that was."""

    skipped: int
    ratio: float

    @classmethod
    def of(cls, skipped: int, remaining: int) -> FilterCount:
        """``skipped`` candidates out of ``remaining``."""
        return cls(skipped, skipped / remaining if skipped else 0.0)


def positive_scores(
    model: SentenceTransformer, query_embeddings: np.ndarray, corpus_embeddings: np.ndarray, texts: MiningTexts
) -> Tensor:
    """The model's score of every (query, positive) row, ``(n_rows,)`` on the model's device."""
    queries = query_embeddings[texts.row_query_ids]
    positives = corpus_embeddings[texts.row_positive_ids]
    return model.similarity_pairwise(queries, positives).to(model.device)


def rescore_with_cross_encoder(
    cross_encoder: CrossEncoder,
    texts: MiningTexts,
    indices: Tensor,
    batch_size: int,
    devices: list[str] | None,
    verbose: bool,
) -> tuple[Tensor, Tensor]:
    """Replace the candidate and positive scores by the cross-encoder's ``predict`` scores (after its activation).

    Args:
        cross_encoder: A one-label cross-encoder.
        texts: The queries, corpus and positives.
        indices: ``(n_queries, k)`` corpus ids of the candidates; -1 marks an empty slot (scored ``-inf``).
        batch_size: Pairs per forward pass.
        devices: None: score in this process; else the pool's devices (an empty list: the default devices).
        verbose: Show a progress bar.

    Returns:
        ``(candidate scores (n_queries, k), positive scores (n_rows,))`` on the device of ``indices``.

    Raises:
        ValueError: When the cross-encoder has more than one label.
    """
    from tqdm.auto import trange

    if cross_encoder.num_labels != 1:
        raise ValueError(
            f"mine_hard_negatives rescores with a cross-encoder that gives one score per pair; this one has "
            f"num_labels={cross_encoder.num_labels}. Pass a one-label (relevance) cross-encoder, or none."
        )
    scores = torch.full(indices.shape, -float("inf"), device=indices.device)
    queries_per_call = max(1, CROSS_ENCODER_PAIRS_PER_CALL // max(1, indices.size(1)))
    pool = cross_encoder.start_multi_process_pool(target_devices=devices or None) if devices is not None else None
    try:
        for start in trange(0, len(indices), queries_per_call, desc="Rescoring with CrossEncoder", disable=not verbose):
            block = indices[start : start + queries_per_call]
            found = block != -1
            rows, docs = found.nonzero()[:, 0].tolist(), block[found].tolist()
            pairs = [(texts.queries[start + row], texts.corpus[doc]) for row, doc in zip(rows, docs, strict=True)]
            if pairs:
                predicted = cross_encoder.predict(
                    pairs, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False, pool=pool
                )
                scores[start : start + queries_per_call][found] = predicted.to(scores)
        positives = cross_encoder.predict(
            texts.row_pairs(), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False, pool=pool
        )
    finally:
        if pool is not None:
            cross_encoder.stop_multi_process_pool(pool)
    return scores, positives.to(scores)


def mask_positives(scores: Tensor, indices: Tensor, texts: MiningTexts) -> None:
    """Set the score of every query's own positives among its candidates to ``-inf`` (in place)."""
    padded = torch.full((len(texts.positive_ids), max(texts.n_positives)), -2, dtype=indices.dtype)
    for query, ids in enumerate(texts.positive_ids):
        padded[query, : len(ids)] = torch.tensor(ids, dtype=indices.dtype)
    is_positive = (indices.unsqueeze(-1) == padded.to(indices.device).unsqueeze(1)).any(dim=-1)
    scores[is_positive] = -float("inf")


def apply_filters(
    scores: Tensor, positives: Tensor, texts: MiningTexts, filters: ScoreFilters
) -> dict[str, FilterCount]:
    """Drop candidates (score ``-inf``, in place) by margin to the hardest positive, then by maximum/minimum score.

    Args:
        scores: ``(n_queries, k)`` candidate scores.
        positives: ``(n_rows,)`` positive scores, grouped by query.
        texts: Says which rows belong to which query.
        filters: The thresholds.

    Returns:
        For each filter that dropped something, the count and its share of the candidates (sentence-transformers'
        bookkeeping: the share is of all slots, less those dropped by the margins before it).
    """
    counts: dict[str, FilterCount] = {}
    remaining = scores.numel()
    if filters.absolute_margin is not None or filters.relative_margin is not None:
        hardest = _hardest_positive(positives, texts).to(scores.device).unsqueeze(1)
        if filters.absolute_margin is not None:
            skipped = _drop(scores, scores + filters.absolute_margin > hardest)
            counts["absolute_margin"] = FilterCount.of(skipped, remaining)
            remaining -= skipped
        if filters.relative_margin is not None:
            skipped = _drop(scores, scores > hardest - hardest.abs() * filters.relative_margin)
            counts["relative_margin"] = FilterCount.of(skipped, remaining)
            remaining -= skipped
    if filters.max_score is not None:
        skipped = _drop(scores, scores > filters.max_score)
        counts["max_score"] = FilterCount.of(skipped, remaining)
    if filters.min_score is not None:
        skipped = _drop(scores, (scores < filters.min_score) & (scores != -float("inf")))
        counts["min_score"] = FilterCount.of(skipped, remaining)
    return {name: count for name, count in counts.items() if count.skipped}


def _hardest_positive(positives: Tensor, texts: MiningTexts) -> Tensor:
    """The lowest positive score of every query, ``(n_queries,)``."""
    row_query = torch.tensor(texts.row_query_ids, device=positives.device)
    lowest = torch.full((len(texts.queries),), float("inf"), dtype=positives.dtype, device=positives.device)
    return lowest.scatter_reduce(0, row_query, positives, reduce="amin")


def _drop(scores: Tensor, dropped: Tensor) -> int:
    """Set the ``dropped`` scores to ``-inf`` (in place) and count them."""
    scores[dropped] = -float("inf")
    return int(dropped.sum().item())


def select_negatives(
    scores: Tensor, indices: Tensor, range_min: int, range_max: int, num_negatives: int, sampling_strategy: str
) -> tuple[Tensor, Tensor]:
    """Keep the ``range_max`` best candidates, skip the first ``range_min``, then take ``num_negatives`` of them.

    ``"top"`` takes the best ones; ``"random"`` samples uniformly (Python's :mod:`random`, so ``random.seed``
    makes it repeatable) among the valid ones, falling back to invalid slots only when too few are valid, and
    sorts the sample by score.

    Args:
        scores: ``(n_queries, k)`` candidate scores, ``-inf`` for dropped candidates; ``k >= range_max``.
        indices: ``(n_queries, k)`` corpus ids.
        range_min: Best candidates skipped.
        range_max: Best candidates considered.
        num_negatives: Negatives per query.
        sampling_strategy: ``"top"`` or ``"random"``.

    Returns:
        ``(scores, corpus ids)`` of the negatives, both ``(n_queries, num_negatives)``, best first; ``-inf``
        marks a slot where no valid negative was found.
    """
    rows = torch.arange(scores.size(0), device=scores.device).unsqueeze(-1)
    top_scores, local = torch.topk(scores, k=range_max, dim=1)
    top_indices = indices[rows, local][:, range_min:]
    top_scores = top_scores[:, range_min:]
    if sampling_strategy == "top":
        return top_scores[:, :num_negatives], top_indices[:, :num_negatives]
    options = (top_indices.size(1) - top_scores.isinf().sum(dim=1)).clamp(min=num_negatives)
    sampled = torch.tensor(
        [random.sample(range(count), k=num_negatives) for count in options.tolist()],
        dtype=torch.long,
        device=scores.device,
    ).reshape(-1, num_negatives)
    sampled_scores, order = top_scores[rows, sampled].sort(dim=1, descending=True)
    return sampled_scores, top_indices[rows, sampled][rows, order]
