"""The weighting schemes of :class:`~embedforge.cross_encoder.losses.LambdaLoss`: how much each document pair counts.

LambdaLoss sorts each query's documents by the model's scores and, for every pair ``(i, j)`` of positions in that
order, weighs the pairwise logistic loss by ``weight[q, i, j]``. A scheme computes those weights from:

- ``gain``: ``(queries, max_docs)`` normalized gains ``G_i = (2^{y_i} - 1) / maxDCG`` of the documents in
  predicted order (zero on padding);
- ``discount``: ``(1, max_docs)`` position discounts ``D_i = log2(1 + i)``, positions from 1;
- ``true_sorted``: ``(queries, max_docs)`` labels in predicted order, negatives and padding clamped to 0.

and returns weights that broadcast to ``(queries, max_docs, max_docs)``. The schemes follow Wang et al., "The
LambdaLoss Framework for Ranking Metric Optimization" (CIKM 2018).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor, nn

__all__ = [
    "BaseWeightingScheme",
    "LambdaRankScheme",
    "NDCGLoss1Scheme",
    "NDCGLoss2PPScheme",
    "NDCGLoss2Scheme",
    "NoWeightingScheme",
]


class BaseWeightingScheme(nn.Module, ABC):
    """A LambdaLoss weighting scheme: subclasses implement :meth:`forward`.

    Attributes:
        ordered_pairs_only: True (the default) if only pairs whose first document has the strictly higher label
            count; False if every pair of real documents counts (NDCG-Loss1, whose weights depend on one document
            only).
    """

    ordered_pairs_only: ClassVar[bool] = True

    @abstractmethod
    def forward(self, gain: Tensor, discount: Tensor, true_sorted: Tensor) -> Tensor:
        """The weight of every pair of positions.

        Args:
            gain: ``(queries, max_docs)`` normalized gains, in predicted order.
            discount: ``(1, max_docs)`` position discounts ``log2(1 + position)``.
            true_sorted: ``(queries, max_docs)`` labels in predicted order, clamped at 0.

        Returns:
            Weights that broadcast to ``(queries, max_docs, max_docs)``.
        """


class NoWeightingScheme(BaseWeightingScheme):
    """Every pair weighs 1: LambdaLoss becomes RankNet.

    Example:
        >>> import torch
        >>> NoWeightingScheme()(torch.zeros(2, 3), torch.ones(1, 3), torch.zeros(2, 3)).item()
        1.0
    """

    def forward(self, gain: Tensor, discount: Tensor, true_sorted: Tensor) -> Tensor:
        """A scalar 1.0 (see :meth:`BaseWeightingScheme.forward`)."""
        return torch.tensor(1.0, device=gain.device)


class NDCGLoss1Scheme(BaseWeightingScheme):
    """NDCG-Loss1: the pair ``(i, j)`` weighs ``G_i / D_i``, the discounted gain of its first document.

    A loose bound of NDCG; the paper found NDCG-Loss2 and NDCG-Loss2++ better. Every pair of real documents counts,
    not only correctly labelled ones (``ordered_pairs_only = False``).
    """

    ordered_pairs_only: ClassVar[bool] = False

    def forward(self, gain: Tensor, discount: Tensor, true_sorted: Tensor) -> Tensor:
        """``(queries, max_docs, 1)`` weights ``G_i / D_i`` (see :meth:`BaseWeightingScheme.forward`)."""
        return (gain / discount)[:, :, None]


class NDCGLoss2Scheme(BaseWeightingScheme):
    """NDCG-Loss2: ``|G_i - G_j| · |1/D(|i-j|) - 1/D(|i-j| + 1)|``, zero on the diagonal.

    The weight depends on how far apart the two positions are; a tighter bound of NDCG than NDCG-Loss1.
    """

    def forward(self, gain: Tensor, discount: Tensor, true_sorted: Tensor) -> Tensor:
        """``(queries, max_docs, max_docs)`` weights (see :meth:`BaseWeightingScheme.forward`)."""
        inverse = discount[0].abs().reciprocal()
        positions = torch.arange(gain.shape[1], device=gain.device)
        distance = (positions[:, None] - positions[None, :]).abs()
        # inverse[d - 1] = 1 / D(d) and inverse[d] = 1 / D(d + 1), for a distance d >= 1.
        deltas = (inverse[(distance - 1).clamp(min=0)] - inverse[distance]).abs()
        deltas = deltas.masked_fill(distance == 0, 0.0)
        return deltas[None, :, :] * (gain[:, :, None] - gain[:, None, :]).abs()


class LambdaRankScheme(BaseWeightingScheme):
    """LambdaRank: ``|G_i - G_j| · |1/D_i - 1/D_j|``, the NDCG change of swapping the two documents.

    A coarse upper bound of NDCG.
    """

    def forward(self, gain: Tensor, discount: Tensor, true_sorted: Tensor) -> Tensor:
        """``(queries, max_docs, max_docs)`` weights (see :meth:`BaseWeightingScheme.forward`)."""
        inverse = discount.reciprocal()
        return (inverse[:, :, None] - inverse[:, None, :]).abs() * (gain[:, :, None] - gain[:, None, :]).abs()


class NDCGLoss2PPScheme(BaseWeightingScheme):
    """NDCG-Loss2++: ``mu · NDCG-Loss2 + LambdaRank``, the strongest scheme in the LambdaLoss paper.

    Args:
        mu: Weight of the NDCG-Loss2 term.
    """

    def __init__(self, mu: float = 10.0) -> None:
        super().__init__()
        self.mu = mu
        self.ndcg_loss2 = NDCGLoss2Scheme()
        self.lambda_rank = LambdaRankScheme()

    def forward(self, gain: Tensor, discount: Tensor, true_sorted: Tensor) -> Tensor:
        """``(queries, max_docs, max_docs)`` weights (see :meth:`BaseWeightingScheme.forward`)."""
        return self.mu * self.ndcg_loss2(gain, discount, true_sorted) + self.lambda_rank(gain, discount, true_sorted)
