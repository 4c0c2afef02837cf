"""OnlineContrastiveLoss: the contrastive loss on the hard positive and hard negative pairs of each batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import Loss
from embedforge.losses.contrastive import (
    PAIR_SPEC,
    SiameseDistanceMetric,
    check_pair_labels,
    distance_metric_name,
    warn_if_not_binary,
)
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional import contrastive as functional

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["OnlineContrastiveLoss"]


class OnlineContrastiveLoss(Loss):
    r"""Contrastive loss restricted to the hard pairs of the batch, summed.

    With ``d_i = distance_metric(a_i, b_i)``, a negative pair (label 0) is hard if it is closer than the farthest
    positive of the batch, and a positive pair (label 1) is hard if it is farther than the closest negative (a
    batch with only one kind compares against that kind's mean distance)::

        loss = Σ_{hard positives} d_i² + Σ_{hard negatives} max(0, margin - d_i)²

    Unlike :class:`ContrastiveLoss` there is no factor 0.5 and no averaging. Pairs whose label is neither 0 nor 1
    are ignored (the loss warns once).

    =================================  ============================
    Inputs                             Labels
    =================================  ============================
    (anchor, positive/negative) pairs  1 if positive, 0 if negative
    =================================  ============================

    When to use: like :class:`ContrastiveLoss`, on data that holds hard positives and hard negatives; it often
    gives better results because easy pairs stop contributing.

    Related: :class:`ContrastiveLoss` (every pair); :class:`CoSENTLoss`. The math lives in
    :func:`embedforge.losses.functional.contrastive.online_contrastive_loss`.

    References:
        Hadsell et al., CVPR 2006, https://doi.org/10.1109/CVPR.2006.100 (the contrastive loss); sentence-transformers'
        Quora duplicate-questions example (online hard-pair selection).

    Args:
        model: The model to train.
        distance_metric: Pairwise distance ``(n, dim), (n, dim) -> (n,)``, e.g. a :class:`SiameseDistanceMetric`.
        margin: Negative pairs farther apart than this cost nothing.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import OnlineContrastiveLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = OnlineContrastiveLoss(model)  # doctest: +SKIP
        >>> first = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> second = model.tokenize(["It's so sunny.", "She walked to the store."])  # doctest: +SKIP
        >>> loss([first, second], torch.tensor([1, 0])).backward()  # doctest: +SKIP
    """

    input_spec = PAIR_SPEC
    config_keys = ("distance_metric", "margin")

    def __init__(
        self,
        model: EmbeddingModel,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = SiameseDistanceMetric.COSINE_DISTANCE,
        margin: float = 0.5,
    ) -> None:
        super().__init__(model)
        self.distance_metric = distance_metric
        self.margin = margin
        self._checked_labels = False

    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Embed both columns and compute the loss.

        Args:
            sentence_features: The two tokenized columns, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` 0/1 labels.

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: Two ``(batch, dim)`` tensors.
            labels: ``(batch,)`` 0/1 labels.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without labels, without one label per pair, or without exactly two columns.
        """
        labels = check_pair_labels(embeddings, labels, type(self).__name__)
        if not self._checked_labels:
            self._checked_labels = True
            warn_if_not_binary(labels, type(self).__name__, "Pairs with any other label are ignored.")
        return functional.online_contrastive_loss(
            embeddings[0], embeddings[1], labels, distance_metric=self.distance_metric, margin=self.margin
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments, the distance metric by name (``"SiameseDistanceMetric.COSINE_DISTANCE"``)."""
        return {**super().get_config_dict(), "distance_metric": distance_metric_name(self.distance_metric)}
