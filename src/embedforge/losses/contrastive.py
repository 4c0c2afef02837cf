"""ContrastiveLoss: pull labelled-similar pairs together, push dissimilar pairs beyond a margin."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional import check_label_count
from embedforge.losses.functional import contrastive as functional
from embedforge.losses.functional.contrastive import cosine_distance, euclidean_distance, manhattan_distance

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = [
    "ContrastiveLoss",
    "SiameseDistanceMetric",
    "check_pair_labels",
    "distance_metric_name",
    "warn_if_not_binary",
]

DistanceFct = Callable[[Tensor, Tensor], Tensor]

PAIR_SPEC = InputSpec(
    min_texts=2,
    max_texts=2,
    label=LabelKind.BINARY,
    description="(anchor, positive/negative) pairs with label 1 if positive, 0 if negative",
)


class SiameseDistanceMetric:
    """The distances of :class:`ContrastiveLoss` and ``OnlineContrastiveLoss``: ``(n, dim), (n, dim) -> (n,)``.

    As in sentence-transformers, the attributes are the functions themselves (call
    ``SiameseDistanceMetric.EUCLIDEAN(x, y)``); config dicts name them ``"SiameseDistanceMetric.EUCLIDEAN"``.
    """

    EUCLIDEAN = staticmethod(euclidean_distance)
    """L2 distance."""
    MANHATTAN = staticmethod(manhattan_distance)
    """L1 distance."""
    COSINE_DISTANCE = staticmethod(cosine_distance)
    """``1 - cosine similarity``."""


def distance_metric_name(distance_metric: DistanceFct) -> str:
    """``"SiameseDistanceMetric.<NAME>"`` for a built-in metric, else the function's ``__name__``.

    Args:
        distance_metric: A distance function.

    Returns:
        The name written in config dicts and model cards.
    """
    for name in ("EUCLIDEAN", "MANHATTAN", "COSINE_DISTANCE"):
        if getattr(SiameseDistanceMetric, name) is distance_metric:
            return f"SiameseDistanceMetric.{name}"
    return getattr(distance_metric, "__name__", str(distance_metric))


def warn_if_not_binary(labels: Tensor, loss_name: str, consequence: str) -> None:
    """Warn (a UserWarning) if some label is neither 0 nor 1.

    Args:
        labels: ``(n,)`` labels.
        loss_name: The loss, for the message.
        consequence: What the loss does with such labels.
    """
    if labels.ne(0).logical_and(labels.ne(1)).any().item():
        warnings.warn(
            f"{loss_name} expects binary labels (0 or 1). {consequence} Map the labels to 0 and 1.",
            UserWarning,
            stacklevel=4,
        )


class ContrastiveLoss(Loss):
    r"""Contrastive loss (Hadsell, Chopra & LeCun 2006) on labelled pairs.

    Similar pairs (label 1) are pulled together; dissimilar pairs (label 0) are pushed until their distance is at
    least ``margin``. With ``d_i = distance_metric(a_i, b_i)``::

        loss = mean_i 0.5 * (y_i * d_i² + (1 - y_i) * max(0, margin - d_i)²)     (sum_i with size_average=False)

    =================================  ============================
    Inputs                             Labels
    =================================  ============================
    (anchor, positive/negative) pairs  1 if positive, 0 if negative
    =================================  ============================

    Labels other than 0 and 1 are rejected by the trainer's up-front check; called directly, the loss uses them as
    weights of the two terms and warns once.

    When to use: duplicate/paraphrase data labelled same/different (e.g. Quora duplicates, MRPC).

    Related: ``OnlineContrastiveLoss`` computes the same terms on the hard pairs of the batch only and often works
    better; :class:`CoSENTLoss` and ``AnglELoss`` also accept 0/1 labels. The math lives in
    :func:`embedforge.losses.functional.contrastive.contrastive_loss`.

    References:
        Hadsell et al., "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006,
        https://doi.org/10.1109/CVPR.2006.100.

    Args:
        model: The model to train.
        distance_metric: Pairwise distance ``(n, dim), (n, dim) -> (n,)``, e.g. a :class:`SiameseDistanceMetric`.
        margin: Dissimilar pairs farther apart than this cost nothing.
        size_average: Average over the batch if True, else sum.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import ContrastiveLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = ContrastiveLoss(model)  # doctest: +SKIP
        >>> first = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> second = model.tokenize(["It's so sunny.", "She walked to the store."])  # doctest: +SKIP
        >>> loss([first, second], torch.tensor([1, 0])).backward()  # doctest: +SKIP
    """

    input_spec = PAIR_SPEC
    config_keys = ("distance_metric", "margin", "size_average")
    citation = """
@inproceedings{hadsell2006dimensionality,
    author={Hadsell, R. and Chopra, S. and LeCun, Y.},
    booktitle={2006 IEEE Computer Society Conference on Computer Vision and Pattern Recognition (CVPR'06)},
    title={Dimensionality Reduction by Learning an Invariant Mapping},
    year={2006},
    volume={2},
    number={},
    pages={1735-1742},
    doi={10.1109/CVPR.2006.100}
}
"""

    def __init__(
        self,
        model: EmbeddingModel,
        distance_metric: DistanceFct = SiameseDistanceMetric.COSINE_DISTANCE,
        margin: float = 0.5,
        size_average: bool = True,
    ) -> None:
        super().__init__(model)
        self.distance_metric = distance_metric
        self.margin = margin
        self.size_average = size_average
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
            warn_if_not_binary(
                labels, type(self).__name__, "Other labels weight the positive term, and 1 - label the negative one."
            )
        return functional.contrastive_loss(
            embeddings[0],
            embeddings[1],
            labels,
            distance_metric=self.distance_metric,
            margin=self.margin,
            size_average=self.size_average,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments, the distance metric by name (``"SiameseDistanceMetric.COSINE_DISTANCE"``)."""
        return {**super().get_config_dict(), "distance_metric": distance_metric_name(self.distance_metric)}


def check_pair_labels(embeddings: list[Tensor], labels: Tensor | None, loss_name: str) -> Tensor:
    """Check that there are two columns and one label per pair.

    Args:
        embeddings: The embedded columns, each ``(n, dim)``.
        labels: ``(n,)`` or ``(n, 1)`` labels, or None.
        loss_name: The loss, for the messages.

    Returns:
        The ``(n,)`` labels.

    Raises:
        ValueError: Without exactly two columns, without labels, or without one label per pair.
    """
    if len(embeddings) != 2:
        raise ValueError(
            f"{loss_name} expects exactly 2 text columns (anchor, positive/negative), got {len(embeddings)}."
        )
    if labels is None:
        raise ValueError(f"{loss_name} needs a 0/1 label per pair; add a 'label' column to the dataset.")
    return check_label_count(labels, embeddings[0].size(0), loss_name)
