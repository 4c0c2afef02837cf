"""Math of the distillation losses: match a teacher's embeddings, score margins, or score distributions.

Teachers are offline: their embeddings or scores arrive as the batch's labels, so each function takes the
student's embeddings (or scores) and the teacher's values and returns a scalar loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from embedforge.util.pairwise import pairwise_dot_score

__all__ = [
    "DISTANCE_METRICS",
    "DistanceMetric",
    "check_teacher_scores",
    "distill_kl_div_loss",
    "embedding_distance",
    "margin_mse_loss",
    "student_scores",
    "teacher_embeddings_per_column",
    "teacher_margins",
]

logger = logging.getLogger(__name__)

DistanceMetric = Literal["mse", "l2", "cosine"]
DISTANCE_METRICS: tuple[DistanceMetric, ...] = ("mse", "l2", "cosine")
"""How EmbedDistillLoss compares a student embedding with its teacher embedding."""

SimilarityFct = Callable[[Tensor, Tensor], Tensor]


# ------------------------------------------------------------------------------------------ embedding distillation
def embedding_distance(student: Tensor, teacher: Tensor, distance_metric: DistanceMetric = "cosine") -> Tensor:
    """Mean distance between aligned student and teacher embeddings.

    ============  ==========================================================
    ``mse``       ``mean_{i,k} (s_ik - t_ik)²`` (over rows and dimensions)
    ``l2``        ``mean_i ||s_i - t_i||₂``
    ``cosine``    ``mean_i (1 - cos(s_i, t_i))``
    ============  ==========================================================

    Args:
        student: ``(batch, dim)`` student embeddings.
        teacher: ``(batch, dim)`` teacher embeddings (cast to the student's dtype and device).
        distance_metric: ``"mse"``, ``"l2"`` or ``"cosine"``.

    Returns:
        Scalar loss.

    Raises:
        ValueError: If the shapes differ (e.g. a teacher of another dimension without a projection) or the metric
            is unknown.

    Example:
        >>> s, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
        >>> [round(embedding_distance(s, t, m).item(), 4) for m in ("mse", "l2", "cosine")]
        [1.0, 1.4142, 1.0]
    """
    teacher = teacher.to(device=student.device, dtype=student.dtype)
    if student.shape != teacher.shape:
        raise ValueError(
            f"Student embeddings of shape {tuple(student.shape)} cannot be compared with teacher embeddings of shape "
            f"{tuple(teacher.shape)}. If the teacher's dimension differs from the student's, pass "
            f"projection_dim={teacher.shape[-1]} to the loss."
        )
    if distance_metric == "mse":
        return F.mse_loss(student, teacher)
    if distance_metric == "l2":
        return torch.linalg.vector_norm(student - teacher, dim=-1).mean()
    if distance_metric == "cosine":
        return (1 - F.cosine_similarity(student, teacher, dim=-1)).mean()
    raise ValueError(f"distance_metric must be one of {DISTANCE_METRICS}, but got {distance_metric!r}.")


def teacher_embeddings_per_column(labels: Tensor, num_columns: int) -> list[Tensor]:
    """Split the label tensor into one teacher embedding batch per text column.

    Args:
        labels: ``(batch, teacher_dim)`` (one target shared by every column) or ``(batch, num_columns,
            teacher_dim)`` (one target per column).
        num_columns: Number of text columns.

    Returns:
        ``num_columns`` tensors of shape ``(batch, teacher_dim)``, detached.

    Raises:
        ValueError: For labels of another rank, or 3-D labels with another number of columns.
    """
    labels = labels.detach()
    if labels.dim() == 2:
        return [labels] * num_columns
    if labels.dim() == 3:
        if labels.size(1) != num_columns:
            raise ValueError(
                f"The labels hold teacher embeddings for {labels.size(1)} columns but the batch has {num_columns} "
                f"text columns. Pass labels of shape (batch_size, {num_columns}, teacher_dim), or of shape "
                "(batch_size, teacher_dim) to use one teacher embedding for every column."
            )
        return list(labels.unbind(dim=1))
    raise ValueError(
        f"Expected teacher embeddings as labels of shape (batch_size, teacher_dim) or (batch_size, num_columns, "
        f"teacher_dim), but got {labels.dim()}-D labels of shape {tuple(labels.shape)}. Store one list of floats "
        "(or one list per text column) per row in the 'label' column."
    )


# ---------------------------------------------------------------------------------------------- score distillation
def student_scores(embeddings: Sequence[Tensor], similarity_fct: SimilarityFct = pairwise_dot_score) -> Tensor:
    """Similarity of each query to each of its candidate documents.

    Args:
        embeddings: ``(batch, dim)`` queries, then ``(batch, dim)`` embeddings of each candidate column.
        similarity_fct: Pairwise similarity ``(n, dim), (n, dim) -> (n,)``.

    Returns:
        ``(batch, num_candidates)`` scores, ``scores[i, j] = similarity_fct(q_i, d_ij)``.
    """
    query = embeddings[0]
    return torch.stack([similarity_fct(query, candidates) for candidates in embeddings[1:]], dim=1)


def teacher_margins(labels: Tensor, batch_size: int, num_negatives: int) -> Tensor:
    """The teacher's margins ``M(q, p) - M(q, n_j)`` from either label layout.

    Args:
        labels: ``(batch,)`` or ``(batch, num_negatives)`` margins, or ``(batch, 1 + num_negatives)`` raw teacher
            scores ``[M(q, p), M(q, n_1), ...]``.
        batch_size: Number of rows.
        num_negatives: Number of negative columns.

    Returns:
        ``(batch, num_negatives)`` margins, detached.

    Raises:
        ValueError: If the labels fit neither layout.
    """
    labels = labels.detach()
    if labels.shape == (batch_size, num_negatives + 1):
        labels = labels[:, :1] - labels[:, 1:]
    elif labels.shape == (batch_size,):
        labels = labels.unsqueeze(1)
    if labels.shape != (batch_size, num_negatives):
        raise ValueError(
            f"Labels of shape {tuple(labels.shape)} fit neither layout for {batch_size} rows with {num_negatives} "
            f"negative column(s): give either the teacher margins M(q, p) - M(q, n_i), shape ({batch_size}, "
            f"{num_negatives}) (or ({batch_size},) for one negative), or the raw teacher scores [M(q, p), M(q, n_1), "
            f"...], shape ({batch_size}, {num_negatives + 1})."
        )
    return labels


def margin_mse_loss(
    embeddings: Sequence[Tensor], labels: Tensor, similarity_fct: SimilarityFct = pairwise_dot_score
) -> Tensor:
    """MSE between the student's margins ``s(q, p) - s(q, n_j)`` and the teacher's.

    Args:
        embeddings: ``(batch, dim)`` queries, positives (first documents), then one tensor per negative column.
        labels: Teacher margins or raw teacher scores; see :func:`teacher_margins`.
        similarity_fct: Pairwise similarity ``(n, dim), (n, dim) -> (n,)``.

    Returns:
        Scalar loss, ``mean_{i,j} (s(q_i, p_i) - s(q_i, n_ij) - margin_ij)²``.

    Example:
        >>> q, p, n = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]])
        >>> margin_mse_loss([q, p, n], torch.tensor([1.5])).item()
        0.25
    """
    scores = student_scores(embeddings, similarity_fct)
    margins = scores[:, :1] - scores[:, 1:]
    targets = teacher_margins(labels, scores.size(0), scores.size(1) - 1)
    return F.mse_loss(margins, targets.to(device=margins.device, dtype=margins.dtype))


def distill_kl_div_loss(
    scores: Tensor, teacher_scores: Tensor, student_temperature: float = 1.0, teacher_temperature: float = 1.0
) -> Tensor:
    """KL divergence from the teacher's softmax over candidates to the student's, scaled by ``T_s²``.

    ``loss = T_s² · mean_i Σ_j p_ij (log p_ij - log q_ij)`` with ``p_i = softmax(t_i / T_t)`` and
    ``q_i = softmax(s_i / T_s)``; the ``T_s²`` factor keeps gradient magnitudes comparable across temperatures
    (Hinton et al. 2015).

    Args:
        scores: ``(batch, num_candidates)`` student scores.
        teacher_scores: ``(batch, num_candidates)`` teacher scores (not probabilities).
        student_temperature: ``T_s``.
        teacher_temperature: ``T_t``.

    Returns:
        Scalar loss.

    Example:
        >>> round(distill_kl_div_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0]])).item(), 6)
        0.0
    """
    student_log_probs = torch.log_softmax(scores / student_temperature, dim=1)
    teacher_probs = torch.softmax(teacher_scores.detach() / teacher_temperature, dim=1)
    return F.kl_div(student_log_probs, teacher_probs, reduction="batchmean") * student_temperature**2


def check_teacher_scores(teacher_scores: Tensor, teacher_temperature: float, loss_name: str) -> None:
    """Reject NaN teacher scores and warn when the teacher's softmax underflows to exact zeros.

    Rows with an infinite score (a candidate excluded on purpose) are not checked for underflow.

    Args:
        teacher_scores: ``(batch, num_candidates)`` raw teacher scores.
        teacher_temperature: Temperature applied before the softmax.
        loss_name: The loss's name, to open the messages with.

    Raises:
        ValueError: If a teacher score is NaN (every gradient would be NaN).
    """
    scores = teacher_scores.detach().float()
    if scores.isnan().any():
        raise ValueError(
            f"{loss_name}: the teacher scores contain NaN, so the loss and every gradient would be NaN after the "
            "first backward. Check the column holding your teacher scores."
        )
    if scores.isinf().any():
        return
    probabilities = torch.softmax(teacher_scores.detach() / teacher_temperature, dim=-1)
    collapsed = int((probabilities == 0).sum())
    if collapsed:
        spread = (scores.max(dim=-1).values - scores.min(dim=-1).values).max().item()
        logger.warning(
            "%s: teacher_temperature=%s underflows %d of %d teacher probabilities to exactly zero, so those "
            "candidates carry no gradient. The widest row of teacher scores spans %.1f, and a float32 softmax "
            "underflows once spread / temperature exceeds about 100. Raise teacher_temperature above %.3g.",
            loss_name,
            teacher_temperature,
            collapsed,
            probabilities.numel(),
            spread,
            spread / 100,
        )
