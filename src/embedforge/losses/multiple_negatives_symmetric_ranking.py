"""MultipleNegativesSymmetricRankingLoss: in-batch negatives in both directions (anchor → positive and back)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor

from embedforge.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["MultipleNegativesSymmetricRankingLoss"]


class MultipleNegativesSymmetricRankingLoss(MultipleNegativesRankingLoss):
    r"""Symmetric InfoNCE: find each anchor's positive among the batch's documents, and each positive's anchor.

    Deprecated, as in sentence-transformers 6: it is exactly
    ``MultipleNegativesRankingLoss(model, directions=("query_to_doc", "doc_to_query"),
    partition_mode="per_direction")`` (creating one warns with a DeprecationWarning).

    For anchors ``q_i``, positives ``p_i`` and ``s_ij = scale * similarity_fct(q_i, p_j)``, the two cross-entropies
    are averaged::

        loss = mean_i [ (logsumexp_j s_ij - s_ii) + (logsumexp_j s_ji - s_ii) ] / 2

    With hard-negative columns, they join the forward direction's candidates (``s(q_i, n_j)`` for every negative
    of the batch) while the backward direction still ranks the anchors for each positive.

    ========================================  ======
    Inputs                                    Labels
    ========================================  ======
    (anchor, positive) pairs                  none
    (anchor, positive, negative_1, ...)       none
    ========================================  ======

    When to use: symmetric pair data (question/answer, caption/caption) where retrieval goes both ways. Use
    ``BatchSamplers.NO_DUPLICATES`` so that no in-batch negative is a duplicate of a positive.

    Related: :class:`MultipleNegativesRankingLoss` (its general form); ``CachedMultipleNegativesSymmetricRankingLoss``
    (same loss, bounded memory). The math is :func:`embedforge.losses.functional.multiple_negatives_ranking_loss`.

    References:
        Günther et al., "Jina Embeddings 2", https://arxiv.org/abs/2310.19923 (bidirectional InfoNCE).

    Args:
        model: The model to train.
        scale: Multiplies the similarities (``1 / temperature``); 20 suits cosine, about 1 suits ``dot_score``.
        similarity_fct: Similarity matrix function ``(n, dim), (m, dim) -> (n, m)``.
        gather_across_devices: Gather embeddings from every torch.distributed rank (with gradients) for more
            negatives.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import MultipleNegativesSymmetricRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = MultipleNegativesSymmetricRankingLoss(model)  # doctest: +SKIP
        >>> anchors = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> positives = model.tokenize(["It's so sunny.", "He took the car to the office."])  # doctest: +SKIP
        >>> loss([anchors, positives], None).backward()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: EmbeddingModel,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        gather_across_devices: bool = False,
    ) -> None:
        warnings.warn(
            "MultipleNegativesSymmetricRankingLoss is deprecated. Use MultipleNegativesRankingLoss(model, "
            "directions=('query_to_doc', 'doc_to_query'), partition_mode='per_direction'), which computes the "
            "same loss.",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(
            model,
            scale=scale,
            similarity_fct=similarity_fct,
            gather_across_devices=gather_across_devices,
            directions=("query_to_doc", "doc_to_query"),
            partition_mode="per_direction",
        )
