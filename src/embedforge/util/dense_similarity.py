"""Similarity matrices between two sets of single-vector embeddings: ``res[i, j] = sim(a[i], b[j])``.

Every function accepts lists, numpy arrays or tensors, dense or sparse COO, of shape ``(dim,)`` (one embedding) or
``(n, dim)``, and returns a dense float tensor of shape ``(n_a, n_b)``. Inputs narrower than float32 are scored in
float32. Distances are returned negated, so that for every function a higher value means more similar.
"""

from __future__ import annotations

import torch
from torch import Tensor

from embedforge.util.tensors import ArrayLike, _convert_to_batch_tensor, normalize_embeddings

__all__ = ["cos_sim", "dot_score", "euclidean_sim", "manhattan_sim", "pytorch_cos_sim"]


def _match_layouts(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Make a mixed sparse/dense pair all-sparse, so that the sparse code paths apply to both.

    The dense operand of such a pair usually holds sparse embeddings that were densified and is mostly zeros, so
    converting it is cheaper than densifying the sparse one.

    Args:
        a: Dense or sparse tensor of shape ``(n_a, dim)`` or ``(dim,)``.
        b: Dense or sparse tensor of shape ``(n_b, dim)`` or ``(dim,)``.

    Returns:
        ``(a, b)`` unchanged if both share a layout, else both as sparse COO tensors.
    """
    if a.is_sparse and not b.is_sparse:
        return a, b.to_sparse()
    if b.is_sparse and not a.is_sparse:
        return a.to_sparse(), b
    return a, b


def cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Cosine similarity between every embedding of ``a`` and every embedding of ``b``.

    ``res[i, j] = a[i] · b[j] / (‖a[i]‖ ‖b[j]‖)``; a zero vector scores 0 against everything.

    Args:
        a: Embeddings of shape ``(n_a, dim)`` or ``(dim,)``.
        b: Embeddings of shape ``(n_b, dim)`` or ``(dim,)``.

    Returns:
        Dense tensor of shape ``(n_a, n_b)`` with values in ``[-1, 1]``.

    Example:
        >>> cos_sim([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0]])
        tensor([[1.0000],
                [0.7071]])
    """
    a_norm = normalize_embeddings(_convert_to_batch_tensor(a))
    b_norm = normalize_embeddings(_convert_to_batch_tensor(b))
    return torch.mm(a_norm, b_norm.transpose(0, 1)).to_dense()


def pytorch_cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Alias of :func:`cos_sim`, kept for code written against older sentence-transformers versions.

    Args:
        a: Embeddings of shape ``(n_a, dim)`` or ``(dim,)``.
        b: Embeddings of shape ``(n_b, dim)`` or ``(dim,)``.

    Returns:
        Dense tensor of shape ``(n_a, n_b)`` with ``res[i, j] = cos_sim(a[i], b[j])``.
    """
    return cos_sim(a, b)


def dot_score(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Dot product between every embedding of ``a`` and every embedding of ``b``.

    Args:
        a: Embeddings of shape ``(n_a, dim)`` or ``(dim,)``.
        b: Embeddings of shape ``(n_b, dim)`` or ``(dim,)``.

    Returns:
        Dense tensor of shape ``(n_a, n_b)`` with ``res[i, j] = a[i] · b[j]``.
    """
    a_tensor = _convert_to_batch_tensor(a)
    b_tensor = _convert_to_batch_tensor(b)
    return torch.mm(a_tensor, b_tensor.transpose(0, 1)).to_dense()


def manhattan_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Manhattan (L1) distance between every embedding of ``a`` and every embedding of ``b``.

    Sparse inputs are densified for this computation.

    Args:
        a: Embeddings of shape ``(n_a, dim)`` or ``(dim,)``.
        b: Embeddings of shape ``(n_b, dim)`` or ``(dim,)``.

    Returns:
        Dense tensor of shape ``(n_a, n_b)`` with ``res[i, j] = -Σ_k |a[i, k] - b[j, k]|`` (at most 0).
    """
    a_tensor = _convert_to_batch_tensor(a).to_dense()
    b_tensor = _convert_to_batch_tensor(b).to_dense()
    return -torch.cdist(a_tensor, b_tensor, p=1.0)


def euclidean_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Euclidean (L2) distance between every embedding of ``a`` and every embedding of ``b``.

    Sparse inputs are handled without densifying them, through ``‖x - y‖² = ‖x‖² - 2 x·y + ‖y‖²``.

    Args:
        a: Embeddings of shape ``(n_a, dim)`` or ``(dim,)``.
        b: Embeddings of shape ``(n_b, dim)`` or ``(dim,)``.

    Returns:
        Dense tensor of shape ``(n_a, n_b)`` with ``res[i, j] = -‖a[i] - b[j]‖₂`` (at most 0).
    """
    a_tensor = _convert_to_batch_tensor(a)
    b_tensor = _convert_to_batch_tensor(b)
    if not (a_tensor.is_sparse or b_tensor.is_sparse):
        return -torch.cdist(a_tensor, b_tensor, p=2.0)

    a_tensor, b_tensor = _match_layouts(a_tensor, b_tensor)
    a_norm_sq = torch.sparse.sum(a_tensor * a_tensor, dim=1).to_dense().unsqueeze(1)  # (n_a, 1)
    b_norm_sq = torch.sparse.sum(b_tensor * b_tensor, dim=1).to_dense().unsqueeze(0)  # (1, n_b)
    dot_product = torch.matmul(a_tensor, b_tensor.t()).to_dense()  # (n_a, n_b)
    squared_distance = torch.clamp(a_norm_sq - 2 * dot_product + b_norm_sq, min=0.0)
    return -torch.sqrt(squared_distance)
