"""Math of Global Orthogonal Regularization: spread the embeddings of a column over the space."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from embedforge.util.similarity import cos_sim

__all__ = ["Aggregation", "global_orthogonal_regularization", "gor_terms"]

Aggregation = Literal["mean", "sum"]

SimilarityFct = Callable[[Tensor, Tensor], Tensor]


def gor_terms(embeddings: Tensor, similarity_fct: SimilarityFct = cos_sim) -> tuple[Tensor, Tensor]:
    """The two GOR terms of one batch of embeddings (unweighted).

    With ``S = similarity_fct(E, E)`` and ``P`` the ``n (n - 1)`` off-diagonal pairs (at least 1)::

        mean_term          = (Σ_{i≠j} S_ij / P)²                 # squared first moment
        second_moment_term = max(0, Σ_{i≠j} S_ij² / P - 1 / dim)  # second moment above that of uniform vectors

    For unit vectors spread uniformly on the sphere the first moment is 0 and the second moment ``1 / dim``, so
    both terms vanish.

    Args:
        embeddings: ``(batch, dim)`` embeddings of one column.
        similarity_fct: Similarity matrix function ``(n, dim), (m, dim) -> (n, m)``.

    Returns:
        ``(mean_term, second_moment_term)``, two scalars; both 0 (with a gradient) for a batch of one.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> [term.item() for term in gor_terms(e)]
        [0.0, 0.0]
    """
    batch_size, dim = embeddings.shape
    similarities = similarity_fct(embeddings, embeddings)
    diagonal = torch.eye(batch_size, dtype=torch.bool, device=similarities.device)
    similarities = similarities.masked_fill(diagonal, 0.0)
    pairs = max(batch_size * (batch_size - 1), 1)
    mean_term = (similarities.sum() / pairs).pow(2)
    second_moment_term = torch.relu(similarities.pow(2).sum() / pairs - 1.0 / dim)
    return mean_term, second_moment_term


def global_orthogonal_regularization(
    embeddings: Sequence[Tensor],
    similarity_fct: SimilarityFct = cos_sim,
    mean_weight: float | None = 1.0,
    second_moment_weight: float | None = 1.0,
    aggregation: Aggregation = "mean",
) -> dict[str, Tensor]:
    """GOR of every column, aggregated over columns and weighted.

    Each column is regularized on its own (queries against queries, documents against documents); the per-column
    terms are averaged (``"mean"``) or added (``"sum"``).

    Args:
        embeddings: One ``(batch, dim)`` tensor per text column.
        similarity_fct: Similarity matrix function.
        mean_weight: Weight of the mean term; None or 0 leaves it out.
        second_moment_weight: Weight of the second-moment term; None or 0 leaves it out.
        aggregation: ``"mean"`` or ``"sum"`` over columns.

    Returns:
        ``{"gor_mean": scalar, "gor_second_moment": scalar}``, holding only the terms with a non-zero weight.
    """
    mean_terms, second_moment_terms = zip(*(gor_terms(column, similarity_fct) for column in embeddings), strict=True)
    reduce = torch.sum if aggregation == "sum" else torch.mean
    results = {}
    if mean_weight:
        results["gor_mean"] = mean_weight * reduce(torch.stack(mean_terms))
    if second_moment_weight:
        results["gor_second_moment"] = second_moment_weight * reduce(torch.stack(second_moment_terms))
    return results
