"""BatchSemiHardTripletLoss: each positive pair against the closest negative that is farther than the positive."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.batch_hard_triplet import BatchHardTripletLossDistanceFunction
from embedforge.losses.batch_triplet_base import BatchTripletLossBase
from embedforge.losses.functional import triplet as triplet_math

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["BatchSemiHardTripletLoss"]


class BatchSemiHardTripletLoss(BatchTripletLossBase):
    r"""Semi-hard triplet loss (FaceNet): each positive pair against a semi-hard negative from the batch.

    The batch holds single sentences with class labels. For every anchor-positive pair ``(a, p)`` (same label,
    ``p != a``) the negative ``n*`` is the one of the batch (another label) with the smallest distance
    ``d(a, n)`` that is still greater than ``d(a, p)``; when no negative is farther than the positive, it is the
    farthest negative. With the distance matrix ``d`` (``distance_metric``)::

        loss = Σ_{(a, p)} max(d(a, p) - d(a, n*) + margin, 0) / #{(a, p) pairs}

    Semi-hard negatives (``d(a, p) < d(a, n) < d(a, p) + margin``) still give a gradient but avoid the hardest
    ones, which can collapse training early on. It runs in ``O(batch² log batch)`` (one sort per row).

    =============  ========================
    Inputs         Labels
    =============  ========================
    single inputs  class (int, per sentence)
    =============  ========================

    Requirements: at least 2 sentences per label in each batch, with several labels per batch — use
    ``SentenceTransformerTrainingArguments(batch_sampler=BatchSamplers.GROUP_BY_LABEL)``.

    When to use: (sentence, class) data with semi-hard positives and negatives, when batch-hard mining is too
    aggressive for the data.

    Related: :class:`BatchHardTripletLoss` uses the hardest positive and negative; :class:`BatchAllTripletLoss`
    all valid triplets; :class:`BatchHardSoftMarginTripletLoss` needs no margin. The math lives in
    :func:`embedforge.losses.functional.triplet.batch_semi_hard_triplet_loss` (as TensorFlow Addons'
    ``triplet_semihard_loss``).

    References:
        Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face Recognition and Clustering",
        CVPR 2015, https://arxiv.org/abs/1503.03832; Hermans, Beyer and Leibe, "In Defense of the Triplet Loss
        for Person Re-Identification", 2017, https://arxiv.org/abs/1703.07737.

    Args:
        model: The model to train.
        distance_metric: ``(batch, dim) -> (batch, batch)`` distance matrix, e.g. a
            :class:`BatchHardTripletLossDistanceFunction` method.
        margin: How much further the chosen negative must be than the positive.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import BatchSemiHardTripletLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = BatchSemiHardTripletLoss(model, margin=1.0)  # doctest: +SKIP
        >>> features = model.tokenize(["They won.", "Stocks rose.", "A great game.", "Shares fell."])  # doctest: +SKIP
        >>> loss([features], torch.tensor([0, 1, 0, 1])).backward()  # doctest: +SKIP
    """

    config_keys = ("distance_metric", "margin")

    def __init__(
        self,
        model: EmbeddingModel,
        distance_metric: Callable[[Tensor], Tensor] = BatchHardTripletLossDistanceFunction.euclidean_distance,
        margin: float = 5,
    ) -> None:
        super().__init__(model, distance_metric)
        self.margin = margin

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: One ``(batch, dim)`` tensor, in a list.
            labels: ``(batch,)`` (or ``(batch, 1)``) integer class labels.

        Returns:
            Scalar loss.
        """
        return self.batch_semi_hard_triplet_loss(labels, embeddings[0])

    def batch_semi_hard_triplet_loss(self, labels: Tensor | None, embeddings: Tensor) -> Tensor:
        """The loss of ``(batch, dim)`` embeddings with ``(batch,)`` labels (sentence-transformers' argument order)."""
        flat = self._flat_labels(labels, embeddings.shape[0])
        return triplet_math.batch_semi_hard_triplet_loss(embeddings, flat, self.distance_metric, self.margin)

    def get_config_dict(self) -> dict[str, Any]:
        """The distance metric by function name and the margin."""
        return {**super().get_config_dict(), "margin": self.margin}
