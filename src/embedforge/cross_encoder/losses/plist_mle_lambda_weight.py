"""PListMLELambdaWeight: the position weights of Position-Aware ListMLE."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["PListMLELambdaWeight"]

_MAX_EXPONENT = 127
"""Largest power of two kept in a row of default weights (float32 reaches 2^127), see :meth:`forward`."""


class PListMLELambdaWeight(nn.Module):
    """Weights of the rank positions of a list, for :class:`~embedforge.cross_encoder.losses.PListMLELoss`.

    By default position ``r`` (1-based) of a list of ``n`` documents gets ``2^(n - r) - 1``: the first place
    weighs most, the last place nothing. :class:`PListMLELoss` normalizes each row to sum to one.

    Args:
        rank_discount_fn: Replaces the default: maps the ``(queries, max_docs)`` boolean mask of real documents
            to ``(queries, max_docs)`` weights, which must be zero on padded cells. None for the default.

    Example:
        >>> import torch
        >>> PListMLELambdaWeight()(torch.tensor([[True, True, True, True]])).tolist()
        [[7.0, 3.0, 1.0, 0.0]]
    """

    def __init__(self, rank_discount_fn: Callable[[Tensor], Tensor] | None = None) -> None:
        super().__init__()
        self.rank_discount_fn = rank_discount_fn

    def forward(self, mask: Tensor) -> Tensor:
        """Weights of every position.

        Args:
            mask: ``(queries, max_docs)`` booleans, True on real documents (the first ``n_q`` cells of row ``q``).

        Returns:
            ``(queries, max_docs)`` weights, zero on padding. With the default weights, a row with more than 127
            documents is divided by ``2^(n - 127)`` so that it stays finite in float32; normalized weights do not
            change.
        """
        if self.rank_discount_fn is not None:
            return self.rank_discount_fn(mask)
        lengths = mask.sum(dim=1, keepdim=True)
        ranks = torch.arange(1, mask.size(1) + 1, device=mask.device).expand_as(mask)
        shift = (lengths - _MAX_EXPONENT).clamp_min(0)
        weights = torch.pow(2.0, lengths - ranks - shift) - torch.pow(2.0, -shift)
        return weights * mask
