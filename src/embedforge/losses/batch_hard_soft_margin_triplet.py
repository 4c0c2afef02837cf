"""BatchHardSoftMarginTripletLoss: batch-hard triplets with a softplus instead of a margin hinge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.batch_hard_triplet import BatchHardTripletLoss, BatchHardTripletLossDistanceFunction
from embedforge.losses.functional import triplet as triplet_math
from embedforge.losses.triplet import distance_metric_name

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["BatchHardSoftMarginTripletLoss"]


class BatchHardSoftMarginTripletLoss(BatchHardTripletLoss):
    r"""Batch-hard triplet loss with a soft margin: no margin to tune.

    Same mining as :class:`BatchHardTripletLoss` (per anchor ``a``, the farthest positive and the closest
    negative in the batch under the distance ``d``), but the hinge is replaced by a softplus::

        loss = mean_a log(1 + exp(max_{p ∈ P(a)} d(a, p) - min_{n ∈ N(a)} d(a, n)))

    The loss keeps pushing (ever more weakly) even after the negative is far enough, and never becomes exactly
    zero.

    =============  ========================
    Inputs         Labels
    =============  ========================
    single inputs  class (int, per sentence)
    =============  ========================

    Requirements: at least 2 sentences per label in each batch, with several labels per batch — use
    ``SentenceTransformerTrainingArguments(batch_sampler=BatchSamplers.GROUP_BY_LABEL)``.

    When to use: like :class:`BatchHardTripletLoss`, when you would rather not choose a margin (whose scale
    depends on the distance metric).

    Related: :class:`BatchHardTripletLoss` (hinge with a margin), :class:`BatchAllTripletLoss`,
    :class:`BatchSemiHardTripletLoss`. It subclasses :class:`BatchHardTripletLoss`, as in sentence-transformers
    (its inherited ``triplet_margin`` is unused). The math lives in
    :func:`embedforge.losses.functional.triplet.batch_hard_soft_margin_triplet_loss`.

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017,
        https://arxiv.org/abs/1703.07737 (section 2, "soft-margin").

    Args:
        model: The model to train.
        distance_metric: ``(batch, dim) -> (batch, batch)`` distance matrix, e.g. a
            :class:`BatchHardTripletLossDistanceFunction` method.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import BatchHardSoftMarginTripletLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = BatchHardSoftMarginTripletLoss(model)  # doctest: +SKIP
        >>> features = model.tokenize(["They won.", "Stocks rose.", "A great game.", "Shares fell."])  # doctest: +SKIP
        >>> loss([features], torch.tensor([0, 1, 0, 1])).backward()  # doctest: +SKIP
    """

    config_keys = ("distance_metric",)

    def __init__(
        self,
        model: EmbeddingModel,
        distance_metric: Callable[[Tensor], Tensor] = BatchHardTripletLossDistanceFunction.euclidean_distance,
    ) -> None:
        super().__init__(model, distance_metric)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: One ``(batch, dim)`` tensor, in a list.
            labels: ``(batch,)`` (or ``(batch, 1)``) integer class labels.

        Returns:
            Scalar loss.
        """
        return self.batch_hard_triplet_soft_margin_loss(labels, embeddings[0])

    def batch_hard_triplet_soft_margin_loss(self, labels: Tensor | None, embeddings: Tensor) -> Tensor:
        """The loss of ``(batch, dim)`` embeddings with ``(batch,)`` labels (sentence-transformers' argument order)."""
        flat = self._flat_labels(labels, embeddings.shape[0])
        return triplet_math.batch_hard_soft_margin_triplet_loss(embeddings, flat, self.distance_metric)

    def get_config_dict(self) -> dict[str, Any]:
        """The distance metric by function name (there is no margin)."""
        return {"distance_metric": distance_metric_name(self.distance_metric)}
