"""BatchHardTripletLoss: each anchor against its farthest positive and closest negative in the batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.batch_triplet_base import BatchTripletLossBase
from embedforge.losses.functional import triplet as triplet_math

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["BatchHardTripletLoss", "BatchHardTripletLossDistanceFunction"]


class BatchHardTripletLossDistanceFunction:
    """Distance matrices for the batch triplet losses: ``(batch, dim) -> (batch, batch)``.

    Pass one as ``distance_metric``; any function with that signature works too. Its ``__name__`` is what the
    loss's config dict (and so the model card) shows.
    """

    @staticmethod
    def cosine_distance(embeddings: Tensor) -> Tensor:
        """``1 - cos(e_i, e_j)`` for all rows of ``(batch, dim)`` embeddings; returns ``(batch, batch)``."""
        return triplet_math.cosine_distance_matrix(embeddings)

    @staticmethod
    def euclidean_distance(embeddings: Tensor, squared: bool = False) -> Tensor:
        """``‖e_i - e_j‖₂`` (or its square) for all rows of ``(batch, dim)`` embeddings; returns ``(batch, batch)``.

        Half-precision inputs are computed in float32. See
        :func:`embedforge.losses.functional.triplet.euclidean_distance_matrix`.
        """
        return triplet_math.euclidean_distance_matrix(embeddings, squared=squared)

    eucledian_distance = euclidean_distance
    """Old misspelled name, kept for compatibility."""


class BatchHardTripletLoss(BatchTripletLossBase):
    r"""Batch-hard triplet loss: per anchor, its hardest positive against its hardest negative in the batch.

    The batch holds single sentences with class labels. For each anchor ``a``, with ``P(a)`` the other rows of its
    label, ``N(a)`` the rows of other labels and ``d`` the distance matrix (``distance_metric``)::

        loss = mean_a max(max_{p ∈ P(a)} d(a, p) - min_{n ∈ N(a)} d(a, n) + margin, 0)

    Triplet terms: *easy* if ``d(a, p) + margin <= d(a, n)`` (zero loss), *hard* if ``d(a, n) < d(a, p)``,
    *semi-hard* in between. Mining the hardest pair per anchor gives strong gradients but is sensitive to label
    noise. An anchor without positives contributes as if its hardest positive distance were 0.

    =============  ========================
    Inputs         Labels
    =============  ========================
    single inputs  class (int, per sentence)
    =============  ========================

    Requirements: at least 2 sentences per label in each batch, with several labels per batch — use
    ``SentenceTransformerTrainingArguments(batch_sampler=BatchSamplers.GROUP_BY_LABEL)``.

    When to use: classification-style data (sentence, class) where you want embeddings that cluster by class,
    and the data has hard positives and negatives.

    Related: :class:`BatchAllTripletLoss` averages over all valid triplets instead of the hardest ones;
    :class:`BatchSemiHardTripletLoss` uses semi-hard negatives; :class:`BatchHardSoftMarginTripletLoss` replaces
    the margin hinge by a softplus. The math lives in
    :func:`embedforge.losses.functional.triplet.batch_hard_triplet_loss`.

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017,
        https://arxiv.org/abs/1703.07737; https://omoindrot.github.io/triplet-loss.

    Args:
        model: The model to train.
        distance_metric: ``(batch, dim) -> (batch, batch)`` distance matrix, e.g. a
            :class:`BatchHardTripletLossDistanceFunction` method.
        margin: How much further the closest negative must be than the farthest positive.

    Example:
        >>> from datasets import Dataset
        >>> from embedforge import SentenceTransformer, SentenceTransformerTrainer
        >>> from embedforge import SentenceTransformerTrainingArguments
        >>> from embedforge.losses import BatchHardTripletLoss
        >>> from embedforge.training_args import BatchSamplers
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> train_dataset = Dataset.from_dict({  # 0: sports, 1: economy, 2: politics
        ...     "sentence": ["He played a great game.", "The stock is up 20%", "They won 2-1.",
        ...                  "The last goal was amazing.", "They all voted against the bill."],
        ...     "label": [0, 1, 0, 0, 2],
        ... })
        >>> args = SentenceTransformerTrainingArguments(  # doctest: +SKIP
        ...     output_dir="out", batch_sampler=BatchSamplers.GROUP_BY_LABEL)
        >>> loss = BatchHardTripletLoss(model)  # doctest: +SKIP
        >>> SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset,  # doctest: +SKIP
        ...                            loss=loss).train()
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
        return self.batch_hard_triplet_loss(labels, embeddings[0])

    def batch_hard_triplet_loss(self, labels: Tensor | None, embeddings: Tensor) -> Tensor:
        """The loss of ``(batch, dim)`` embeddings with ``(batch,)`` labels (sentence-transformers' argument order)."""
        flat = self._flat_labels(labels, embeddings.shape[0])
        return triplet_math.batch_hard_triplet_loss(embeddings, flat, self.distance_metric, self.triplet_margin)

    @staticmethod
    def get_triplet_mask(labels: Tensor) -> Tensor:
        """``(batch, batch, batch)`` mask of the valid triplets ``(a, p, n)``; see ``valid_triplet_mask``."""
        return triplet_math.valid_triplet_mask(labels)

    @staticmethod
    def get_anchor_positive_triplet_mask(labels: Tensor) -> Tensor:
        """``(batch, batch)`` mask: distinct rows with the same label."""
        return triplet_math.anchor_positive_mask(labels)

    @staticmethod
    def get_anchor_negative_triplet_mask(labels: Tensor) -> Tensor:
        """``(batch, batch)`` mask: rows with different labels."""
        return triplet_math.anchor_negative_mask(labels)

    def get_config_dict(self) -> dict[str, Any]:
        """The distance metric by function name and the margin."""
        return {**super().get_config_dict(), "margin": self.triplet_margin}
