"""TripletLoss: an anchor must be closer to its positive than to its negative, by a margin."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional import triplet as triplet_math

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["TRIPLET_CITATION", "TripletDistanceMetric", "TripletLoss", "distance_metric_name"]

TRIPLET_CITATION = """
@misc{hermans2017defense,
    title={In Defense of the Triplet Loss for Person Re-Identification},
    author={Alexander Hermans and Lucas Beyer and Bastian Leibe},
    year={2017},
    eprint={1703.07737},
    archivePrefix={arXiv},
    primaryClass={cs.CV}
}
"""
"""BibTeX shared by TripletLoss and the batch triplet losses (the one sentence-transformers gives them all)."""


class TripletDistanceMetric(Enum):
    """Distances for :class:`TripletLoss`; each member is called as ``metric(a, b)`` on aligned embeddings.

    ``(n, dim), (n, dim) -> (n,)``. Any other function with that signature works as a ``distance_metric`` too.

    Example:
        >>> import torch
        >>> TripletDistanceMetric.MANHATTAN(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 2.0]]))
        tensor([3.])
    """

    COSINE = "cosine"
    """``1 - cos(a, b)``."""
    EUCLIDEAN = "euclidean"
    """``‖a - b‖₂``."""
    MANHATTAN = "manhattan"
    """``‖a - b‖₁``."""

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        """The distance of each aligned pair: ``(n, dim), (n, dim) -> (n,)``."""
        return _PAIR_DISTANCES[self](a, b)


_PAIR_DISTANCES: dict[TripletDistanceMetric, triplet_math.PairDistanceFct] = {
    TripletDistanceMetric.COSINE: triplet_math.pairwise_cosine_distance,
    TripletDistanceMetric.EUCLIDEAN: triplet_math.pairwise_euclidean_distance,
    TripletDistanceMetric.MANHATTAN: triplet_math.pairwise_manhattan_distance,
}


def distance_metric_name(distance_metric: Callable[..., Tensor]) -> str:
    """How a distance metric is written in a loss's config dict, as sentence-transformers writes it.

    Args:
        distance_metric: A :class:`TripletDistanceMetric` member or any callable.

    Returns:
        ``"TripletDistanceMetric.EUCLIDEAN"`` for members, else the function's ``__name__`` (e.g.
        ``"euclidean_distance"``), else ``str(distance_metric)``.
    """
    if isinstance(distance_metric, TripletDistanceMetric):
        return f"TripletDistanceMetric.{distance_metric.name}"
    return getattr(distance_metric, "__name__", str(distance_metric))


class TripletLoss(Loss):
    r"""Triplet loss: pull each anchor towards its positive and push it from its negative by at least a margin.

    With a distance ``d`` (``distance_metric``) over the rows ``(a_i, p_i, n_i)`` of the batch::

        loss = mean_i max(d(a_i, p_i) - d(a_i, n_i) + triplet_margin, 0)

    A triplet stops contributing once its negative is ``triplet_margin`` further from the anchor than its
    positive. The margin is in the units of the distance (unbounded for the Euclidean default, at most 2 for
    cosine), so tune it with the metric.

    =======================================  ======
    Inputs                                   Labels
    =======================================  ======
    (anchor, positive, negative) triplets    none
    =======================================  ======

    When to use: you have explicit (anchor, positive, negative) triplets, e.g. NLI (premise, entailment,
    contradiction), and want a margin objective. For retrieval-style training,
    :class:`MultipleNegativesRankingLoss` on the same triplets (which also uses the rest of the batch as
    negatives) usually trains better embeddings.

    Related: ``BatchAllTripletLoss``, ``BatchHardTripletLoss``, ``BatchSemiHardTripletLoss`` and
    ``BatchHardSoftMarginTripletLoss`` form the triplets themselves from single labelled sentences. The math
    lives in :func:`embedforge.losses.functional.triplet.triplet_loss`.

    References:
        Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017,
        https://arxiv.org/abs/1703.07737; https://en.wikipedia.org/wiki/Triplet_loss.

    Args:
        model: The model to train.
        distance_metric: Distance of aligned embeddings ``(n, dim), (n, dim) -> (n,)``; a
            :class:`TripletDistanceMetric` member or any such function.
        triplet_margin: How much further the negative must be from the anchor than the positive.

    Example:
        >>> from datasets import Dataset
        >>> from embedforge import SentenceTransformer, SentenceTransformerTrainer
        >>> from embedforge.losses import TripletLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> train_dataset = Dataset.from_dict({
        ...     "anchor": ["It's nice weather outside today.", "He drove to work."],
        ...     "positive": ["It's so sunny.", "He took the car to the office."],
        ...     "negative": ["It's quite rainy, sadly.", "She walked to the store."],
        ... })
        >>> loss = TripletLoss(model)  # doctest: +SKIP
        >>> SentenceTransformerTrainer(model=model, train_dataset=train_dataset, loss=loss).train()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=3, max_texts=3, label=LabelKind.NONE, description="(anchor, positive, negative) triplets"
    )
    config_keys = ("distance_metric", "triplet_margin")
    citation = TRIPLET_CITATION

    def __init__(
        self,
        model: EmbeddingModel,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = TripletDistanceMetric.EUCLIDEAN,
        triplet_margin: float = 5,
    ) -> None:
        super().__init__(model)
        self.distance_metric = distance_metric
        self.triplet_margin = triplet_margin

    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Embed the three columns and compute the loss.

        Args:
            sentence_features: The tokenized anchor, positive and negative columns, ``input_ids`` ``(batch, seq)``.
            labels: Unused; the triplet structure is the supervision.

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: Anchor, positive and negative embeddings, each ``(batch, dim)``.
            labels: Unused.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Unless exactly three embedding tensors are given.
        """
        if len(embeddings) != 3:
            raise ValueError(
                f"TripletLoss needs exactly 3 columns (anchor, positive, negative), but got {len(embeddings)}. "
                "Select the three text columns of the dataset, in that order."
            )
        anchor, positive, negative = embeddings
        return triplet_math.triplet_loss(anchor, positive, negative, self.distance_metric, self.triplet_margin)

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments, the metric by name (e.g. ``"TripletDistanceMetric.EUCLIDEAN"``)."""
        return {"distance_metric": distance_metric_name(self.distance_metric), "triplet_margin": self.triplet_margin}
