"""CachedMultipleNegativesSymmetricRankingLoss: symmetric InfoNCE with GradCache (deprecated alias, as in ST 6)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor

from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["CachedMultipleNegativesSymmetricRankingLoss"]


class CachedMultipleNegativesSymmetricRankingLoss(CachedMultipleNegativesRankingLoss):
    r"""Symmetric InfoNCE (anchor → positive and positive → anchor) with a gradient cache for large batches.

    Deprecated, as in sentence-transformers 6: it is exactly ``CachedMultipleNegativesRankingLoss(model,
    directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")`` (creating one warns with a
    DeprecationWarning). With ``s_ij = scale * similarity_fct(q_i, p_j)`` the two cross-entropies are averaged::

        loss = mean_i [ (logsumexp_j s_ij - s_ii) + (logsumexp_j s_ji - s_ii) ] / 2

    Extra columns are hard negatives of the forward direction (``s(q_i, n_j)`` join the candidates of ``q_i``),
    as in sentence-transformers 6.2. Embedding runs in mini-batches with GradCache (see
    :class:`~embedforge.losses.CachedMultipleNegativesRankingLoss`), so the value and gradients equal those of
    ``MultipleNegativesSymmetricRankingLoss`` with the memory of one mini-batch.

    ========================================  ======
    Inputs                                    Labels
    ========================================  ======
    (anchor, positive) pairs                  none
    (anchor, positive, negative_1, ...)       none
    ========================================  ======

    When to use: symmetric pair data (question/answer, caption/caption) at batch sizes that do not fit in memory.
    Use ``BatchSamplers.NO_DUPLICATES``.

    Related: ``MultipleNegativesSymmetricRankingLoss`` (same loss, one pass); ``CachedMultipleNegativesRankingLoss``.

    References:
        Gao et al. 2021 (GradCache), https://arxiv.org/abs/2101.06983; Henderson et al. 2017,
        https://arxiv.org/abs/1705.00652.

    Args:
        model: The model to train.
        scale: Inverse temperature (20 suits cosine; about 1 for ``dot_score``).
        similarity_fct: Similarity matrix function ``(n, dim), (m, dim) -> (n, m)``.
        mini_batch_size: Examples per forward pass (and anchors per loss chunk).
        mini_batch_num_tokens: If set, forward mini-batches hold up to this many non-padding tokens instead.
        gather_across_devices: Use every torch.distributed rank's documents as negatives.
        show_progress_bar: Show progress over mini-batches.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import CachedMultipleNegativesSymmetricRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = CachedMultipleNegativesSymmetricRankingLoss(model, mini_batch_size=32)  # doctest: +SKIP
        >>> anchors = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> positives = model.tokenize(["It's so sunny.", "He took the car to the office."])  # doctest: +SKIP
        >>> loss([anchors, positives], None).backward()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: EmbeddingModel,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        gather_across_devices: bool = False,
        show_progress_bar: bool = False,
    ) -> None:
        warnings.warn(
            "CachedMultipleNegativesSymmetricRankingLoss is deprecated. Use CachedMultipleNegativesRankingLoss("
            "model, directions=('query_to_doc', 'doc_to_query'), partition_mode='per_direction'), which computes "
            "the same loss.",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(
            model,
            scale=scale,
            similarity_fct=similarity_fct,
            mini_batch_size=mini_batch_size,
            mini_batch_num_tokens=mini_batch_num_tokens,
            gather_across_devices=gather_across_devices,
            directions=("query_to_doc", "doc_to_query"),
            partition_mode="per_direction",
            show_progress_bar=show_progress_bar,
        )
