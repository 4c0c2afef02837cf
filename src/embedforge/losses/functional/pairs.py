"""Math of the losses on (sentence_A, sentence_B) pairs.

CoSENT, cosine-similarity regression, and the input and classification loss of SBERT's softmax classifier.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from embedforge.util.pairwise import pairwise_cos_sim

__all__ = [
    "check_label_count",
    "classification_loss",
    "cosent_loss",
    "cosent_loss_from_scores",
    "cosine_similarity_loss",
    "pair_classifier_features",
    "regression_operands",
]

SimilarityFct = Callable[[Tensor, Tensor], Tensor]


def regression_operands(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """``prediction`` and ``target`` in one floating dtype, float32 or wider, for a regression loss.

    Labels arrive as float32 while predictions follow the model's dtype (bfloat16 or float64 weights). torch 2.11
    and older refuse ``mse_loss``/``huber_loss`` backward for mixed dtypes ("Found dtype Float but expected
    BFloat16"); newer versions promote. Both operands go to the promoted dtype, at least float32 (a bfloat16 model's
    loss is computed in float32, as torch's autocast does for ``mse_loss``). Float32 operands are returned as they are.

    Args:
        prediction: ``(batch,)`` scores.
        target: ``(batch,)`` labels, on any device.

    Returns:
        ``(prediction, target)`` in the common dtype, the target on the prediction's device.

    Example:
        >>> p, t = regression_operands(torch.ones(2, dtype=torch.bfloat16), torch.zeros(2, dtype=torch.float64))
        >>> p.dtype, t.dtype
        (torch.float64, torch.float64)
    """
    dtype = torch.promote_types(torch.promote_types(prediction.dtype, target.dtype), torch.float32)
    return prediction.to(dtype), target.to(device=prediction.device, dtype=dtype)


def check_label_count(labels: Tensor, batch_size: int, loss_name: str) -> Tensor:
    """Check that there is one label per example and flatten them.

    Args:
        labels: ``(batch,)`` or ``(batch, 1)`` labels.
        batch_size: Number of examples.
        loss_name: Name of the loss, for the error message.

    Returns:
        The labels as a ``(batch,)`` tensor.

    Raises:
        ValueError: If ``labels`` does not hold exactly ``batch_size`` values.
    """
    if labels.numel() != batch_size:
        raise ValueError(
            f"{loss_name} expects {batch_size} labels (one per example), but got {labels.numel()} labels with "
            f"shape {tuple(labels.shape)}. Give the dataset one score column with a single number per row."
        )
    return labels.view(-1)


# ----------------------------------------------------------------------------------------------------- CoSENT
def cosent_loss_from_scores(scores: Tensor, labels: Tensor, scale: float = 20.0) -> Tensor:
    """CoSENT on pair scores: ``log(1 + Σ_{label_i > label_j} exp(scale * (s_j - s_i)))``.

    Computed in O(n log n): sort by label; for each pair ``j`` the pairs with a strictly higher label form a
    suffix of the sorted order, and ``log Σ exp(-scale * s_i)`` over every suffix is one reversed
    ``logcumsumexp``. Ties contribute nothing, as in the pairwise formula.

    Args:
        scores: ``(n,)`` similarity of each pair.
        labels: ``(n,)`` gold scores (float, int or bool).
        scale: Inverse temperature.

    Returns:
        Scalar loss (float32 at least).
    """
    if scores.dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()
    if labels.dtype == torch.bool:
        labels = labels.int()
    sorted_labels, order = labels.sort()
    scaled = (scores * scale)[order]
    first_higher = torch.searchsorted(sorted_labels, sorted_labels, right=True)
    # suffix[k] = log Σ_{m >= k} exp(-scaled[m]); suffix[n] = log 0
    suffix = torch.logcumsumexp(-scaled.flip(0), dim=0).flip(0)
    suffix = torch.cat((suffix, scaled.new_full((1,), -torch.inf)))
    pair_terms = scaled + suffix[first_higher]
    return torch.logsumexp(torch.cat((scaled.new_zeros(1), pair_terms)), dim=0)


def cosent_loss(
    embeddings_a: Tensor,
    embeddings_b: Tensor,
    labels: Tensor,
    *,
    scale: float = 20.0,
    similarity_fct: SimilarityFct = pairwise_cos_sim,
) -> Tensor:
    """CoSENT loss of a batch of pairs: :func:`cosent_loss_from_scores` on ``similarity_fct(a, b)``.

    Args:
        embeddings_a: ``(n, dim)`` first texts.
        embeddings_b: ``(n, dim)`` second texts.
        labels: ``(n,)`` gold scores.
        scale: Inverse temperature.
        similarity_fct: Pairwise similarity, ``(n, dim), (n, dim) -> (n,)``.

    Returns:
        Scalar loss.

    Raises:
        ValueError: If there is not one label per pair, or the similarity is not one score per pair.
    """
    labels = check_label_count(labels, embeddings_a.size(0), "CoSENTLoss")
    scores = similarity_fct(embeddings_a, embeddings_b)
    if labels.shape != scores.shape:
        raise ValueError(
            f"Labels and scores must have the same shape, got {tuple(labels.shape)} and {tuple(scores.shape)}; "
            "similarity_fct must be a pairwise function returning one score per pair."
        )
    return cosent_loss_from_scores(scores, labels, scale)


# -------------------------------------------------------------------------------------------- cosine similarity
def cosine_similarity_loss(
    embeddings_a: Tensor,
    embeddings_b: Tensor,
    labels: Tensor,
    *,
    loss_fct: Callable[[Tensor, Tensor], Tensor] = F.mse_loss,
    cos_score_transformation: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """``loss_fct(transform(cos(a_i, b_i)), label_i)``, by default the mean squared error.

    Args:
        embeddings_a: ``(n, dim)`` first texts.
        embeddings_b: ``(n, dim)`` second texts.
        labels: ``(n,)`` gold similarities.
        loss_fct: Regression loss ``(prediction, target) -> scalar``.
        cos_score_transformation: Applied to the ``(n,)`` cosine similarities; None for identity.

    Returns:
        Scalar loss.
    """
    labels = check_label_count(labels, embeddings_a.size(0), "CosineSimilarityLoss")
    scores = torch.cosine_similarity(embeddings_a, embeddings_b)
    if cos_score_transformation is not None:
        scores = cos_score_transformation(scores)
    return loss_fct(*regression_operands(scores, labels.float()))


# ------------------------------------------------------------------------------------------------------ softmax
def pair_classifier_features(
    embeddings_a: Tensor,
    embeddings_b: Tensor,
    *,
    concatenation_sent_rep: bool = True,
    concatenation_sent_difference: bool = True,
    concatenation_sent_multiplication: bool = False,
) -> Tensor:
    """The classifier input of SBERT's softmax loss: ``[u; v; |u - v|; u * v]`` (the selected parts).

    Args:
        embeddings_a: ``(n, dim)`` embeddings ``u``.
        embeddings_b: ``(n, dim)`` embeddings ``v``.
        concatenation_sent_rep: Include ``u`` and ``v``.
        concatenation_sent_difference: Include ``|u - v|``.
        concatenation_sent_multiplication: Include ``u * v``.

    Returns:
        ``(n, k * dim)`` features, ``k`` the number of parts (2 + 1 + 0 by default).
    """
    parts = []
    if concatenation_sent_rep:
        parts += [embeddings_a, embeddings_b]
    if concatenation_sent_difference:
        parts.append(torch.abs(embeddings_a - embeddings_b))
    if concatenation_sent_multiplication:
        parts.append(embeddings_a * embeddings_b)
    return torch.cat(parts, dim=1)


def classification_loss(logits: Tensor, labels: Tensor, loss_fct: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """Apply ``loss_fct`` to class logits and labels that are class indices or class probabilities.

    Args:
        logits: ``(n, num_labels)`` classifier outputs.
        labels: ``(n,)`` class indices, or ``(n, num_labels)`` class probabilities (kept as they are).
        loss_fct: E.g. ``nn.CrossEntropyLoss()``, which accepts both label forms.

    Returns:
        Scalar loss.
    """
    if logits.size(1) == 1 or labels.shape != logits.shape:
        labels = labels.view(-1)
    return loss_fct(logits, labels)
