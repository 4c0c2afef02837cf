"""Pairwise similarities between aligned embeddings: ``res[i] = sim(a[i], b[i])``.

These are the diagonals of the matrices in :mod:`embedforge.util.dense_similarity`, computed without building the full
matrix. Inputs are lists, numpy arrays or tensors (dense or sparse COO) of shape ``(n, dim)``; both inputs must have
the same shape. Inputs narrower than float32 are scored in float32.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from embedforge.util.dense_similarity import _match_layouts
from embedforge.util.tensors import ArrayLike, _convert_to_float_tensor, normalize_embeddings

__all__ = [
    "pairwise_angle_sim",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
]

logger = logging.getLogger(__name__)


def pairwise_dot_score(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Dot product of each aligned pair of embeddings.

    Args:
        a: Embeddings of shape ``(n, dim)``.
        b: Embeddings of shape ``(n, dim)``.

    Returns:
        Dense tensor of shape ``(n,)`` with ``res[i] = a[i] · b[i]``.
    """
    a_tensor = _convert_to_float_tensor(a)
    b_tensor = _convert_to_float_tensor(b)
    return (a_tensor * b_tensor).sum(dim=-1).to_dense()


def pairwise_cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Cosine similarity of each aligned pair of embeddings.

    Args:
        a: Embeddings of shape ``(n, dim)``.
        b: Embeddings of shape ``(n, dim)``.

    Returns:
        Dense tensor of shape ``(n,)`` with ``res[i] = cos_sim(a[i], b[i])``, in ``[-1, 1]``.
    """
    a_norm = normalize_embeddings(_convert_to_float_tensor(a))
    b_norm = normalize_embeddings(_convert_to_float_tensor(b))
    return (a_norm * b_norm).sum(dim=-1).to_dense()


def pairwise_manhattan_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Manhattan (L1) distance of each aligned pair of embeddings.

    Args:
        a: Embeddings of shape ``(n, dim)``.
        b: Embeddings of shape ``(n, dim)``.

    Returns:
        Dense tensor of shape ``(n,)`` with ``res[i] = -Σ_k |a[i, k] - b[i, k]|``.
    """
    a_tensor, b_tensor = _match_layouts(_convert_to_float_tensor(a), _convert_to_float_tensor(b))
    return -torch.sum(torch.abs(a_tensor - b_tensor), dim=-1).to_dense()


def pairwise_euclidean_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Euclidean (L2) distance of each aligned pair of embeddings.

    Args:
        a: Embeddings of shape ``(n, dim)``.
        b: Embeddings of shape ``(n, dim)``.

    Returns:
        Dense tensor of shape ``(n,)`` with ``res[i] = -‖a[i] - b[i]‖₂``.
    """
    a_tensor, b_tensor = _match_layouts(_convert_to_float_tensor(a), _convert_to_float_tensor(b))
    difference = a_tensor - b_tensor
    if difference.is_sparse or not difference.is_floating_point():
        return -difference.square().sum(dim=-1).sqrt().to_dense()
    return -torch.linalg.vector_norm(difference, dim=-1)


def pairwise_angle_sim(x: ArrayLike, y: ArrayLike) -> Tensor:
    """Absolute AnglE similarity of each aligned pair: ``|cos(x, y) + sin(x, y)|`` after L2 normalization.

    Each embedding is read as a complex vector whose real part is its first half and imaginary part its second
    half (an odd dimension is padded with one zero). The sine term pairs dimension ``k`` with ``k + dim/2``. This
    is the score :class:`AnglELoss` optimizes; see https://huggingface.co/papers/2309.12871.

    Args:
        x: Embeddings of shape ``(n, dim)``. Sparse inputs are densified.
        y: Embeddings of shape ``(n, dim)``. Sparse inputs are densified.

    Returns:
        Dense tensor of shape ``(n,)`` with non-negative values.
    """
    x_tensor = _convert_to_float_tensor(x)
    y_tensor = _convert_to_float_tensor(y)
    if x_tensor.is_sparse or y_tensor.is_sparse:
        logger.warning("pairwise_angle_sim does not support sparse tensors; converting them to dense.")
        x_tensor, y_tensor = x_tensor.to_dense(), y_tensor.to_dense()
    if x_tensor.shape[1] % 2 != 0:
        x_tensor = torch.nn.functional.pad(x_tensor, (0, 1), mode="constant", value=0)
        y_tensor = torch.nn.functional.pad(y_tensor, (0, 1), mode="constant", value=0)

    x_norm = torch.nn.functional.normalize(x_tensor, p=2, dim=1)
    y_norm = torch.nn.functional.normalize(y_tensor, p=2, dim=1)
    cosines = torch.sum(x_norm * y_norm, dim=1)
    x_real, x_imag = torch.chunk(x_norm, 2, dim=1)
    y_real, y_imag = torch.chunk(y_norm, 2, dim=1)
    sines = torch.sum(x_imag * y_real - x_real * y_imag, dim=1)
    return torch.abs(cosines + sines)
