"""Math of the contrastive losses: distance-margin losses on labelled pairs, contrastive tension, mega-batch margin.

Every function takes embeddings (and labels), never a model. Shapes: ``n`` pairs of ``dim``-dimensional embeddings.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from embedforge.util.similarity import cos_sim

__all__ = [
    "contrastive_loss",
    "contrastive_tension_loss",
    "cosine_distance",
    "euclidean_distance",
    "manhattan_distance",
    "mega_batch_margin_loss",
    "mega_batch_margin_terms",
    "online_contrastive_loss",
]

DistanceFct = Callable[[Tensor, Tensor], Tensor]


# ---------------------------------------------------------------------------------------------------- distances
def euclidean_distance(x: Tensor, y: Tensor) -> Tensor:
    """``‖x_i - y_i + eps‖_2`` for each aligned pair (``torch.nn.functional.pairwise_distance``, eps = 1e-6).

    Args:
        x: ``(n, dim)`` embeddings.
        y: ``(n, dim)`` embeddings.

    Returns:
        ``(n,)`` distances.
    """
    return F.pairwise_distance(x, y, p=2)


def manhattan_distance(x: Tensor, y: Tensor) -> Tensor:
    """``‖x_i - y_i + eps‖_1`` for each aligned pair (eps = 1e-6, as ``pairwise_distance``).

    Args:
        x: ``(n, dim)`` embeddings.
        y: ``(n, dim)`` embeddings.

    Returns:
        ``(n,)`` distances.
    """
    return F.pairwise_distance(x, y, p=1)


def cosine_distance(x: Tensor, y: Tensor) -> Tensor:
    """``1 - cos(x_i, y_i)`` for each aligned pair, in ``[0, 2]``.

    Args:
        x: ``(n, dim)`` embeddings.
        y: ``(n, dim)`` embeddings.

    Returns:
        ``(n,)`` distances.
    """
    return 1 - F.cosine_similarity(x, y)


# -------------------------------------------------------------------------------------------------- contrastive
def contrastive_loss(
    embeddings_a: Tensor,
    embeddings_b: Tensor,
    labels: Tensor,
    *,
    distance_metric: DistanceFct = cosine_distance,
    margin: float = 0.5,
    size_average: bool = True,
) -> Tensor:
    """Hadsell et al.'s contrastive loss: pull similar pairs together, push dissimilar ones beyond ``margin``.

    With ``d_i = distance_metric(a_i, b_i)``::

        loss_i = 0.5 * (y_i * d_i² + (1 - y_i) * max(0, margin - d_i)²)

    Labels other than 0 and 1 are used as they are, as weights of the two terms.

    Args:
        embeddings_a: ``(n, dim)`` first texts.
        embeddings_b: ``(n, dim)`` second texts.
        labels: ``(n,)`` labels, 1 for similar and 0 for dissimilar pairs.
        distance_metric: Pairwise distance ``(n, dim), (n, dim) -> (n,)``.
        margin: Distance beyond which dissimilar pairs cost nothing.
        size_average: Mean over the pairs if True, else their sum.

    Returns:
        Scalar loss.

    Example:
        >>> a, b = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
        >>> round(contrastive_loss(a, b, torch.tensor([1, 0])).item(), 4)  # distances 1 and 2: (0.5 * 1² + 0) / 2
        0.25
    """
    distances = distance_metric(embeddings_a, embeddings_b)
    labels = labels.view(-1).to(distances.dtype)
    losses = 0.5 * (labels * distances.pow(2) + (1 - labels) * F.relu(margin - distances).pow(2))
    return losses.mean() if size_average else losses.sum()


def online_contrastive_loss(
    embeddings_a: Tensor,
    embeddings_b: Tensor,
    labels: Tensor,
    *,
    distance_metric: DistanceFct = cosine_distance,
    margin: float = 0.5,
) -> Tensor:
    """Contrastive loss on the hard pairs of the batch only, summed (not averaged).

    A negative (label 0) is hard if it is closer than the farthest positive; a positive (label 1) is hard if it is
    farther than the closest negative. Without positives the threshold for negatives is the negatives' mean
    distance, and without negatives the threshold for positives is the positives' mean distance::

        loss = Σ_{hard positives} d_i² + Σ_{hard negatives} max(0, margin - d_i)²

    Pairs labelled neither 0 nor 1 are ignored.

    Args:
        embeddings_a: ``(n, dim)`` first texts.
        embeddings_b: ``(n, dim)`` second texts.
        labels: ``(n,)`` labels, 1 for similar and 0 for dissimilar pairs.
        distance_metric: Pairwise distance ``(n, dim), (n, dim) -> (n,)``.
        margin: Distance beyond which dissimilar pairs cost nothing.

    Returns:
        Scalar loss (0 when no pair is hard).
    """
    distances = distance_metric(embeddings_a, embeddings_b)
    labels = labels.view(-1)
    negatives = distances[labels == 0]
    positives = distances[labels == 1]
    negative_threshold = positives.max() if len(positives) else negatives.mean()
    positive_threshold = negatives.min() if len(negatives) else positives.mean()
    hard_negatives = negatives[negatives < negative_threshold]
    hard_positives = positives[positives > positive_threshold]
    return hard_positives.pow(2).sum() + F.relu(margin - hard_negatives).pow(2).sum()


# --------------------------------------------------------------------------------------------- contrastive tension
def contrastive_tension_loss(embeddings_a: Tensor, embeddings_b: Tensor, labels: Tensor) -> Tensor:
    """Contrastive tension: binary cross-entropy of the dot product of each pair, summed over the pairs.

    ``loss = Σ_i BCE(sigmoid(a_i · b_i), y_i)``, with ``y_i = 1`` for identical texts and 0 otherwise.

    Args:
        embeddings_a: ``(n, dim)`` first texts (embedded by the frozen-copy encoder).
        embeddings_b: ``(n, dim)`` second texts (embedded by the trained encoder).
        labels: ``(n,)`` 0/1 labels (any dtype).

    Returns:
        Scalar loss.
    """
    scores = (embeddings_a * embeddings_b).sum(dim=-1)
    return F.binary_cross_entropy_with_logits(scores, labels.view(-1).type_as(scores), reduction="sum")


# ----------------------------------------------------------------------------------------------- mega-batch margin
def mega_batch_margin_terms(
    anchors: Tensor,
    positives: Tensor,
    offset: int = 0,
    *,
    positive_margin: float = 0.8,
    negative_margin: float = 0.3,
) -> Tensor:
    """Per-anchor mega-batch margin terms of a chunk of anchors against every positive of the batch.

    For anchor ``i`` (global index ``offset + k`` for row ``k``), with cosine similarities ``s``::

        term_i = max(0, positive_margin - s(a_i, p_i)) + max(0, max_{j != i} s(a_i, p_j) - negative_margin)

    The hardest negative of an anchor is the most similar positive of another example.

    Args:
        anchors: ``(chunk, dim)`` anchors ``offset .. offset + chunk - 1``.
        positives: ``(batch, dim)`` every positive of the batch.
        offset: Index of the first anchor of the chunk in the batch.
        positive_margin: Positive pairs should have a cosine similarity above this.
        negative_margin: The hardest negative should have a cosine similarity below this.

    Returns:
        ``(chunk,)`` terms (``-inf`` negatives, so no negative term, when the batch has one example).
    """
    scores = cos_sim(anchors, positives)
    rows = torch.arange(anchors.size(0), device=anchors.device)
    own = rows + offset
    positive_scores = scores[rows, own]
    is_own = torch.zeros_like(scores, dtype=torch.bool)
    is_own[rows, own] = True
    hardest_negative = scores.masked_fill(is_own, -torch.inf).max(dim=1).values
    return F.relu(positive_margin - positive_scores) + F.relu(hardest_negative - negative_margin)


def mega_batch_margin_loss(
    anchors: Tensor,
    positives: Tensor,
    *,
    positive_margin: float = 0.8,
    negative_margin: float = 0.3,
    chunk_size: int | None = None,
) -> Tensor:
    """Mean over the batch of :func:`mega_batch_margin_terms` (Wieting & Gimpel's margin loss, ParaNMT).

    Args:
        anchors: ``(batch, dim)`` anchors.
        positives: ``(batch, dim)`` positives; ``positives[i]`` belongs to ``anchors[i]``.
        positive_margin: Positive pairs should have a cosine similarity above this.
        negative_margin: The hardest negative should have a cosine similarity below this.
        chunk_size: Anchors scored at once (bounds the ``(chunk, batch)`` similarity matrix); None for all.

    Returns:
        Scalar loss.

    Example:
        >>> a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> round(mega_batch_margin_loss(a, a).item(), 4)  # positives at cos 1, negatives at cos 0
        0.0
    """
    batch_size = anchors.size(0)
    step = chunk_size or batch_size
    total = anchors.new_zeros(())
    for begin in range(0, batch_size, step):
        terms = mega_batch_margin_terms(
            anchors[begin : begin + step],
            positives,
            begin,
            positive_margin=positive_margin,
            negative_margin=negative_margin,
        )
        total = total + terms.sum() / batch_size
    return total
