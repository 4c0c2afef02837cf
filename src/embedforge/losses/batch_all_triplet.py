"""BatchAllTripletLoss: the mean margin loss over every valid triplet of a labelled batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.batch_hard_triplet import BatchHardTripletLossDistanceFunction
from embedforge.losses.batch_triplet_base import BatchTripletLossBase
from embedforge.losses.functional import triplet as triplet_math

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["BatchAllTripletLoss"]


class BatchAllTripletLoss(BatchTripletLossBase):
    r"""Batch-all triplet loss: every valid (anchor, positive, negative) of the batch, averaged over the active ones.

    The batch holds single sentences with class labels. A triplet ``(a, p, n)`` is valid when ``p != a`` has the
    label of ``a`` and ``n`` another label. With the distance matrix ``d`` (``distance_metric``)::

        l(a, p, n) = max(d(a, p) - d(a, n) + margin, 0)
        loss = Σ_{valid} l(a, p, n) / #{valid triplets with l > 1e-16}

    Dividing by the number of *active* triplets (not all valid ones) keeps the loss from shrinking as more
    triplets become easy. It is 0 for a batch with no valid triplet.

    =============  ========================
    Inputs         Labels
    =============  ========================
    single inputs  class (int, per sentence)
    =============  ========================

    Requirements: at least 2 sentences per label in each batch, with several labels per batch — use
    ``SentenceTransformerTrainingArguments(batch_sampler=BatchSamplers.GROUP_BY_LABEL)``.

    When to use: (sentence, class) data where you want embeddings that cluster by class; using all triplets is
    more robust to label noise than mining only the hardest ones.

    Related: :class:`BatchHardTripletLoss` uses only each anchor's hardest positive and negative;
    :class:`BatchSemiHardTripletLoss` semi-hard negatives; :class:`BatchHardSoftMarginTripletLoss` needs no
    margin. The math lives in :func:`embedforge.losses.functional.triplet.batch_all_triplet_loss`.

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017,
        https://arxiv.org/abs/1703.07737; https://omoindrot.github.io/triplet-loss.

    Args:
        model: The model to train.
        distance_metric: ``(batch, dim) -> (batch, batch)`` distance matrix, e.g. a
            :class:`BatchHardTripletLossDistanceFunction` method.
        margin: How much further each negative must be than each positive.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import BatchAllTripletLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = BatchAllTripletLoss(model, margin=1.0)  # doctest: +SKIP
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
        self.triplet_margin = margin

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: One ``(batch, dim)`` tensor, in a list.
            labels: ``(batch,)`` (or ``(batch, 1)``) integer class labels.

        Returns:
            Scalar loss.
        """
        return self.batch_all_triplet_loss(labels, embeddings[0])

    def batch_all_triplet_loss(self, labels: Tensor | None, embeddings: Tensor) -> Tensor:
        """The loss of ``(batch, dim)`` embeddings with ``(batch,)`` labels (sentence-transformers' argument order)."""
        flat = self._flat_labels(labels, embeddings.shape[0])
        return triplet_math.batch_all_triplet_loss(embeddings, flat, self.distance_metric, self.triplet_margin)

    def get_config_dict(self) -> dict[str, Any]:
        """The distance metric by function name and the margin."""
        return {**super().get_config_dict(), "margin": self.triplet_margin}
