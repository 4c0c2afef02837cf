"""Pure metric functions used by the evaluators (no models, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

__all__ = ["as_float_embeddings", "correlations", "triplet_accuracy"]


def correlations(gold: Sequence[float] | np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman correlation between gold scores and predicted similarities.

    Args:
        gold: Gold scores, shape ``(n,)``.
        predicted: Predicted similarities, shape ``(n,)``.

    Returns:
        ``(pearson, spearman)``; NaN when either input is constant.
    """
    from scipy.stats import pearsonr, spearmanr

    pearson, _ = pearsonr(gold, predicted)
    spearman, _ = spearmanr(gold, predicted)
    return float(pearson), float(spearman)


def as_float_embeddings(embeddings: np.ndarray, precision: str | None) -> np.ndarray:
    """Turn embeddings returned by ``encode(precision=...)`` into float32 values the similarity functions accept.

    ``binary`` / ``ubinary`` embeddings are packed eight dimensions to a byte; they are unpacked to one 0/1 value
    per bit (``binary`` bytes are shifted by 128 first). ``int8`` / ``uint8`` values are cast to float32.

    Args:
        embeddings: Shape ``(n, dim)``, or ``(n, dim / 8)`` when packed.
        precision: The precision passed to ``encode``; None or ``"float32"`` returns ``embeddings`` unchanged.

    Returns:
        Float embeddings of shape ``(n, dim)``.
    """
    if precision == "binary":
        embeddings = embeddings.astype(np.int16) + 128
    if precision in ("binary", "ubinary"):
        embeddings = np.unpackbits(embeddings.astype(np.uint8), axis=1)
    if precision in ("int8", "uint8", "binary", "ubinary"):
        embeddings = embeddings.astype(np.float32)
    return embeddings


def triplet_accuracy(positive_scores: Tensor, negative_scores: Tensor, margin: float) -> float:
    """Share of triplets whose positive scores higher than its negative by more than ``margin``.

    Args:
        positive_scores: ``sim(anchor_i, positive_i)``, shape ``(n,)``.
        negative_scores: ``sim(anchor_i, negative_i)``, shape ``(n,)``.
        margin: Required lead of the positive.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    return (positive_scores > negative_scores + margin).float().mean().item()
