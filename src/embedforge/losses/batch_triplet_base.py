"""What the batch triplet losses share: one labelled text column, a distance matrix, label checks, citation."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional import check_label_count
from embedforge.losses.triplet import TRIPLET_CITATION, distance_metric_name

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["BatchTripletLossBase"]


class BatchTripletLossBase(Loss):
    """Base of the losses that form (anchor, positive, negative) triplets inside a batch of labelled sentences.

    Rows with the same label are positives of each other, rows with different labels negatives. Each batch
    therefore needs at least 2 labels with at least 2 rows each: train with
    ``batch_sampler=BatchSamplers.GROUP_BY_LABEL``.

    Subclasses implement :meth:`compute_loss_from_embeddings`.

    Args:
        model: The model to train.
        distance_metric: ``(batch, dim) -> (batch, batch)`` distance matrix, e.g.
            ``BatchHardTripletLossDistanceFunction.euclidean_distance``.
    """

    input_spec = InputSpec(
        min_texts=1, max_texts=1, label=LabelKind.INT, description="single sentences with an integer class label"
    )
    citation = TRIPLET_CITATION

    def __init__(self, model: EmbeddingModel, distance_metric: Callable[[Tensor], Tensor]) -> None:
        super().__init__(model)
        self.distance_metric = distance_metric

    @property
    def sentence_embedder(self) -> EmbeddingModel:
        """The model, under the attribute name sentence-transformers' batch triplet losses use."""
        return self.model

    def forward(self, sentence_features: Sequence[Features], labels: Tensor | None) -> Tensor:
        """Embed the text column and compute the loss.

        Args:
            sentence_features: One tokenized column, ``input_ids`` ``(batch, seq)``… (further columns are ignored).
            labels: ``(batch,)`` integer class labels.

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features[:1]), labels)

    @abstractmethod
    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: One ``(batch, dim)`` tensor (in a list, like the other losses).
            labels: ``(batch,)`` integer class labels.

        Returns:
            Scalar loss.
        """

    def _flat_labels(self, labels: Tensor | None, batch_size: int) -> Tensor:
        """Check there is one label per row and return them as ``(batch,)``.

        Raises:
            ValueError: Without labels, or without exactly one label per row.
        """
        name = type(self).__name__
        if labels is None:
            raise ValueError(
                f"{name} needs an integer class label per sentence; add a 'label' column to the dataset "
                "(rows with the same label are positives of each other)."
            )
        return check_label_count(labels, batch_size, name)

    def get_config_dict(self) -> dict[str, Any]:
        """The distance metric by its function name, e.g. ``"euclidean_distance"``."""
        return {"distance_metric": distance_metric_name(self.distance_metric)}
