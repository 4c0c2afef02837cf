"""Math of the triplet losses: distances, label masks, and the losses that mine triplets inside a batch.

Two kinds of distance functions appear here. :func:`triplet_loss` scores aligned rows, ``(n, dim), (n, dim) ->
(n,)``. The batch losses compare every embedding of a batch with every other, so their distance functions map
``(batch, dim) -> (batch, batch)``; they compute in float32 (or wider) whatever the embeddings' precision.

Terms used by the batch losses, for an anchor ``a``, a positive ``p`` (same label as ``a``, ``p != a``) and a
negative ``n`` (a different label) and a distance ``d``:

* easy triplet: ``d(a, p) + margin <= d(a, n)`` (zero loss);
* semi-hard triplet: ``d(a, p) < d(a, n) < d(a, p) + margin``;
* hard triplet: ``d(a, n) <= d(a, p)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from embedforge.util.pairwise import pairwise_cos_sim, pairwise_euclidean_sim, pairwise_manhattan_sim
from embedforge.util.similarity import cos_sim

__all__ = [
    "DistanceMatrixFct",
    "PairDistanceFct",
    "anchor_negative_mask",
    "anchor_positive_mask",
    "batch_all_triplet_loss",
    "batch_hard_soft_margin_triplet_loss",
    "batch_hard_triplet_loss",
    "batch_semi_hard_triplet_loss",
    "cosine_distance_matrix",
    "euclidean_distance_matrix",
    "hardest_positive_and_negative",
    "pairwise_cosine_distance",
    "pairwise_euclidean_distance",
    "pairwise_manhattan_distance",
    "triplet_loss",
    "valid_triplet_mask",
]

PairDistanceFct = Callable[[Tensor, Tensor], Tensor]
"""Distance of aligned rows: ``(n, dim), (n, dim) -> (n,)``."""
DistanceMatrixFct = Callable[[Tensor], Tensor]
"""Distances between all rows of a batch: ``(batch, dim) -> (batch, batch)``."""


# ------------------------------------------------------------------------------------------ (anchor, pos, neg)
def pairwise_cosine_distance(a: Tensor, b: Tensor) -> Tensor:
    """``1 - cos(a[i], b[i])`` for aligned ``(n, dim)`` embeddings; returns ``(n,)`` values in ``[0, 2]``."""
    return 1 - pairwise_cos_sim(a, b)


def pairwise_euclidean_distance(a: Tensor, b: Tensor) -> Tensor:
    """``‖a[i] - b[i]‖₂`` for aligned ``(n, dim)`` embeddings; returns ``(n,)``."""
    return -pairwise_euclidean_sim(a, b)


def pairwise_manhattan_distance(a: Tensor, b: Tensor) -> Tensor:
    """``Σ_k |a[i, k] - b[i, k]|`` for aligned ``(n, dim)`` embeddings; returns ``(n,)``."""
    return -pairwise_manhattan_sim(a, b)


def triplet_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    distance_fct: PairDistanceFct = pairwise_euclidean_distance,
    margin: float = 5.0,
) -> Tensor:
    """Mean hinge of the triplets: ``mean_i max(d(a_i, p_i) - d(a_i, n_i) + margin, 0)``.

    Args:
        anchor: ``(n, dim)`` anchor embeddings.
        positive: ``(n, dim)`` embeddings that should be close to their anchor.
        negative: ``(n, dim)`` embeddings that should be at least ``margin`` further from their anchor.
        distance_fct: Distance of aligned rows, ``(n, dim), (n, dim) -> (n,)``.
        margin: How much further the negative must be than the positive.

    Returns:
        Scalar loss.
    """
    hinge = distance_fct(anchor, positive) - distance_fct(anchor, negative) + margin
    return F.relu(hinge).mean()


# ------------------------------------------------------------------------------------------- distance matrices
def cosine_distance_matrix(embeddings: Tensor) -> Tensor:
    """``1 - cos(e_i, e_j)`` between all rows of ``(batch, dim)`` embeddings; returns ``(batch, batch)``."""
    return 1 - cos_sim(embeddings, embeddings)


def euclidean_distance_matrix(embeddings: Tensor, squared: bool = False) -> Tensor:
    """Euclidean distances between all rows, from the Gram matrix: ``‖e_i‖² - 2 e_i·e_j + ‖e_j‖²``.

    The diagonal is exactly 0. Rounding can make squared distances slightly negative; they are clamped to 0.
    Zero distances get a zero gradient (the square root's derivative is infinite there). Half-precision inputs
    are computed in float32, also under autocast.

    Args:
        embeddings: ``(batch, dim)`` embeddings.
        squared: Return squared distances.

    Returns:
        ``(batch, batch)`` distances.
    """
    with torch.autocast(device_type=embeddings.device.type, enabled=False):
        if embeddings.dtype in (torch.float16, torch.bfloat16):
            embeddings = embeddings.float()
        gram = embeddings @ embeddings.T
    norms = gram.diagonal()
    squared_distances = (norms.unsqueeze(0) - 2.0 * gram + norms.unsqueeze(1)).clamp(min=0)
    if squared:
        return squared_distances
    is_zero = squared_distances == 0
    return torch.where(is_zero, 0.0, squared_distances.masked_fill(is_zero, 1.0).sqrt())


# ----------------------------------------------------------------------------------------------------- masks
def anchor_positive_mask(labels: Tensor) -> Tensor:
    """``mask[a, p]``: ``a != p`` and both have the same label. ``(batch,)`` labels -> ``(batch, batch)`` bool."""
    same_label = labels.unsqueeze(0) == labels.unsqueeze(1)
    return same_label & ~torch.eye(labels.numel(), dtype=torch.bool, device=labels.device)


def anchor_negative_mask(labels: Tensor) -> Tensor:
    """``mask[a, n]``: ``a`` and ``n`` have different labels. ``(batch,)`` labels -> ``(batch, batch)`` bool."""
    return labels.unsqueeze(0) != labels.unsqueeze(1)


def valid_triplet_mask(labels: Tensor) -> Tensor:
    """``mask[a, p, n]``: ``(a, p)`` is an anchor-positive pair and ``n`` a negative of ``a``.

    The indices are then distinct (``n`` has another label than ``a`` and ``p``).

    Args:
        labels: ``(batch,)`` labels.

    Returns:
        ``(batch, batch, batch)`` bool mask.
    """
    return anchor_positive_mask(labels).unsqueeze(2) & anchor_negative_mask(labels).unsqueeze(1)


# ------------------------------------------------------------------------------------------------ batch losses
def _distances_in_float32(distance_fct: DistanceMatrixFct, embeddings: Tensor) -> Tensor:
    """The ``(batch, batch)`` distance matrix, upcast to float32 if narrower.

    At bfloat16's resolution (0.03 near 5) the default margin of 5 would swamp the distance differences.
    """
    distances = distance_fct(embeddings)
    return distances.float() if distances.dtype in (torch.float16, torch.bfloat16) else distances


def hardest_positive_and_negative(distances: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """For each anchor, the distance to its farthest positive and to its closest negative.

    An anchor without positives gets 0. An anchor without negatives gets its row's largest distance plus its
    smallest distance, as if every same-label entry were pushed out by the row's maximum (so the result stays
    finite; sentence-transformers does the same).

    Args:
        distances: ``(batch, batch)`` distance matrix.
        labels: ``(batch,)`` labels.

    Returns:
        Two ``(batch,)`` tensors: hardest positive and hardest negative distance.
    """
    hardest_positive = torch.where(anchor_positive_mask(labels), distances, 0.0).max(dim=1).values
    row_max = distances.max(dim=1, keepdim=True).values
    pushed_out = torch.where(anchor_negative_mask(labels), distances, distances + row_max)
    return hardest_positive, pushed_out.min(dim=1).values


def batch_hard_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    distance_fct: DistanceMatrixFct = euclidean_distance_matrix,
    margin: float = 5.0,
) -> Tensor:
    """Batch-hard triplet loss: ``mean_a max(max_p d(a, p) - min_n d(a, n) + margin, 0)``.

    Args:
        embeddings: ``(batch, dim)`` embeddings.
        labels: ``(batch,)`` integer class labels.
        distance_fct: ``(batch, dim) -> (batch, batch)`` distances.
        margin: How much further the closest negative must be than the farthest positive.

    Returns:
        Scalar loss.
    """
    distances = _distances_in_float32(distance_fct, embeddings)
    hardest_positive, hardest_negative = hardest_positive_and_negative(distances, labels)
    return (hardest_positive - hardest_negative + margin).clamp(min=0).mean()


def batch_hard_soft_margin_triplet_loss(
    embeddings: Tensor, labels: Tensor, distance_fct: DistanceMatrixFct = euclidean_distance_matrix
) -> Tensor:
    """Batch-hard triplet loss with a soft margin: ``mean_a log(1 + exp(max_p d(a, p) - min_n d(a, n)))``.

    Args:
        embeddings: ``(batch, dim)`` embeddings.
        labels: ``(batch,)`` integer class labels.
        distance_fct: ``(batch, dim) -> (batch, batch)`` distances.

    Returns:
        Scalar loss.
    """
    distances = _distances_in_float32(distance_fct, embeddings)
    hardest_positive, hardest_negative = hardest_positive_and_negative(distances, labels)
    return F.softplus(hardest_positive - hardest_negative).mean()


def batch_all_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    distance_fct: DistanceMatrixFct = euclidean_distance_matrix,
    margin: float = 5.0,
) -> Tensor:
    """Batch-all triplet loss: the mean hinge over the valid triplets whose hinge is positive.

    ``l(a, p, n) = max(d(a, p) - d(a, n) + margin, 0)`` over every valid triplet (see :func:`valid_triplet_mask`);
    the sum is divided by the number of triplets with ``l > 1e-16`` (plus ``1e-16``), so easy triplets do not
    dilute the loss. Computed on one row per anchor-positive pair, ``(pairs, batch)``, not on a cube.

    Args:
        embeddings: ``(batch, dim)`` embeddings.
        labels: ``(batch,)`` integer class labels.
        distance_fct: ``(batch, dim) -> (batch, batch)`` distances.
        margin: How much further each negative must be than each positive.

    Returns:
        Scalar loss (0 when no triplet is valid or all are easy).
    """
    distances = _distances_in_float32(distance_fct, embeddings)
    anchors, positives = anchor_positive_mask(labels).nonzero(as_tuple=True)
    hinges = distances[anchors, positives].unsqueeze(1) - distances[anchors] + margin
    is_negative = labels[anchors].unsqueeze(1) != labels.unsqueeze(0)
    losses = torch.where(is_negative, hinges, 0.0).clamp(min=0)
    active = (losses > 1e-16).sum()
    return losses.sum() / (active + 1e-16)


def _semi_hard_negatives(distances: Tensor, same_label: Tensor) -> Tensor:
    """For each (anchor, positive) entry, the negative distance the semi-hard loss compares it with.

    That is the smallest ``d(a, n)`` greater than ``d(a, p)``; if no negative is farther than the positive, the
    largest ``d(a, n)``; if ``a`` has no negatives at all, the smallest distance of its row.

    Args:
        distances: ``(batch, batch)`` distance matrix.
        same_label: ``(batch, batch)`` bool, True where the labels are equal (diagonal included).

    Returns:
        ``(batch, batch)`` negative distances, finite.
    """
    sorted_negatives = distances.masked_fill(same_label, torch.inf).sort(dim=1, stable=True).values
    # Column of the first negative strictly farther than d(a, p); the diagonal guarantees an inf at the end.
    above = torch.searchsorted(sorted_negatives.detach().contiguous(), distances.detach().contiguous(), right=True)
    nearest_above = sorted_negatives.gather(1, above.clamp(max=distances.shape[1] - 1))
    farthest = torch.where(same_label, -torch.inf, distances).max(dim=1, keepdim=True).values
    has_negative = (~same_label).any(dim=1, keepdim=True)
    farthest = torch.where(has_negative, farthest, distances.min(dim=1, keepdim=True).values)
    return torch.where(torch.isfinite(nearest_above), nearest_above, farthest)


def batch_semi_hard_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    distance_fct: DistanceMatrixFct = euclidean_distance_matrix,
    margin: float = 5.0,
) -> Tensor:
    """Semi-hard triplet loss (FaceNet): each positive pair against the closest negative farther than it.

    For every anchor-positive pair ``(a, p)``, ``n*`` is the negative of ``a`` with the smallest ``d(a, n)``
    above ``d(a, p)`` (a semi-hard negative, or the easiest one when all are hard)::

        loss = Σ_{(a, p)} max(d(a, p) - d(a, n*) + margin, 0) / #pairs

    Args:
        embeddings: ``(batch, dim)`` embeddings.
        labels: ``(batch,)`` integer class labels.
        distance_fct: ``(batch, dim) -> (batch, batch)`` distances.
        margin: How much further the chosen negative must be than the positive.

    Returns:
        Scalar loss (0 when the batch has no anchor-positive pair).
    """
    distances = _distances_in_float32(distance_fct, embeddings)
    same_label = labels.unsqueeze(0) == labels.unsqueeze(1)
    hinges = distances - _semi_hard_negatives(distances, same_label) + margin
    is_pair = anchor_positive_mask(labels)
    losses = torch.where(is_pair, hinges, 0.0).clamp(min=0)
    return losses.sum() / is_pair.sum().to(losses.dtype).clamp(min=1e-16)
