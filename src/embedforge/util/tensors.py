"""Tensor helpers shared by the similarity, search and quantization utilities.

The converters accept the three input kinds the public utilities take (Python lists, numpy arrays and torch
tensors) and return torch tensors. Dense numpy arrays are viewed rather than copied whenever torch can share the
buffer, because copying a corpus of embeddings costs as much as scoring it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, TypeVar, overload

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ArrayLike",
    "_convert_to_batch",
    "_convert_to_batch_tensor",
    "_convert_to_tensor",
    "batch_to_device",
    "normalize_embeddings",
    "truncate_embeddings",
]

ArrayLike = list[Any] | np.ndarray | Tensor
"""Anything the similarity utilities accept as embeddings: a list (of floats, arrays or tensors), an array, or a
tensor."""

_Batch = TypeVar("_Batch", bound=MutableMapping[str, Any])


def _numpy_to_tensor(array: np.ndarray) -> Tensor:
    """View ``array`` as a tensor, copying only where torch cannot share its buffer.

    Read-only buffers (memory maps, broadcast views) and dtypes without a torch equivalent are copied.

    Args:
        array: Any numpy array.

    Returns:
        A tensor with the same shape and values; it aliases ``array`` when that was possible.
    """
    if array.flags.writeable and array.dtype.isnative and array.dtype.kind in "biufc":
        return torch.from_numpy(array)
    return torch.tensor(array)


def _stack_list(items: list[Any]) -> Tensor:
    """Stack a Python list of embeddings into one tensor.

    Args:
        items: A list of sparse tensors, dense tensors, numpy arrays, or (nested lists of) numbers.

    Returns:
        Tensor of shape ``(len(items), *item_shape)``. A list of sparse tensors stays sparse (float32).
    """
    if items and all(isinstance(item, Tensor) for item in items):
        if all(item.is_sparse for item in items):
            return torch.stack([item.coalesce().to(dtype=torch.float32) for item in items])
        return torch.stack(items)
    if items and all(isinstance(item, np.ndarray) for item in items):
        return torch.stack([_numpy_to_tensor(item) for item in items])
    return torch.tensor(items)


def _convert_to_tensor(a: ArrayLike) -> Tensor:
    """Convert ``a`` to a tensor; lists are stacked, arrays are viewed without a copy where possible.

    Args:
        a: A list, numpy array or tensor of any shape.

    Returns:
        A tensor with the same shape. Sparse tensors are returned in float32.
    """
    if isinstance(a, list):
        tensor = _stack_list(a)
    elif isinstance(a, np.ndarray):
        tensor = _numpy_to_tensor(a)
    elif isinstance(a, Tensor):
        tensor = a
    else:
        tensor = torch.tensor(a)
    if tensor.is_sparse:
        return tensor.to(dtype=torch.float32)
    return tensor


def _convert_to_float_tensor(a: ArrayLike) -> Tensor:
    """Convert like :func:`_convert_to_tensor`, then upcast floats narrower than 32 bits to float32.

    Matrix products round their output to the input dtype, so float16/bfloat16 scores would collapse nearby
    similarities into ties; scoring is therefore always done in at least float32.

    Args:
        a: A list, numpy array or tensor of any shape.

    Returns:
        A tensor with the same shape, in float32 if ``a`` held a floating dtype narrower than 32 bits.
    """
    tensor = _convert_to_tensor(a)
    if tensor.is_floating_point() and torch.finfo(tensor.dtype).bits < 32:
        return tensor.to(torch.float32)
    return tensor


def _convert_to_batch(a: Tensor) -> Tensor:
    """Add a batch dimension to a single embedding.

    Args:
        a: Tensor of shape ``(dim,)`` or ``(batch, dim)``.

    Returns:
        Tensor of shape ``(1, dim)`` for a 1-D input, else ``a`` unchanged.
    """
    return a.unsqueeze(0) if a.dim() == 1 else a


def _convert_to_batch_tensor(a: ArrayLike) -> Tensor:
    """Convert like :func:`_convert_to_float_tensor` and add a batch dimension to a single embedding.

    Args:
        a: Embeddings of shape ``(dim,)`` or ``(batch, dim)`` as a list, numpy array or tensor.

    Returns:
        Tensor of shape ``(batch, dim)`` (``batch`` is 1 for a 1-D input).
    """
    return _convert_to_batch(_convert_to_float_tensor(a))


def _tensor_to_numpy(tensor: Tensor) -> np.ndarray:
    """Copy a tensor to a CPU numpy array, upcasting bfloat16 (which numpy lacks) to float32.

    Args:
        tensor: A dense tensor of any shape, on any device.

    Returns:
        A numpy array with the same shape.
    """
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()


def _normalize_sparse(embeddings: Tensor) -> Tensor:
    """L2-normalize the rows of a sparse COO tensor without densifying it.

    Args:
        embeddings: Sparse COO tensor of shape ``(dim,)`` or ``(batch, dim)``.

    Returns:
        Sparse COO tensor of the same shape and dtype; all-zero rows stay zero.
    """
    embeddings = embeddings.coalesce()
    indices, values = embeddings.indices(), embeddings.values()
    if embeddings.dim() == 1:
        normalized = torch.nn.functional.normalize(values, p=2, dim=0)
        return torch.sparse_coo_tensor(indices, normalized, embeddings.size(), check_invariants=False)
    if values.dtype in (torch.float16, torch.bfloat16):
        values = values.float()
    row_norms = values.new_zeros(embeddings.size(0))
    row_norms.index_add_(0, indices[0], values**2)
    value_norms = row_norms.sqrt().index_select(0, indices[0])
    nonzero = value_norms > 0
    normalized = values.clone()
    normalized[nonzero] /= value_norms[nonzero]
    return torch.sparse_coo_tensor(indices, normalized.to(embeddings.dtype), embeddings.size(), check_invariants=False)


def normalize_embeddings(embeddings: Tensor) -> Tensor:
    """Scale every embedding to unit L2 length.

    Args:
        embeddings: Dense or sparse COO tensor of shape ``(dim,)`` or ``(batch, dim)``.

    Returns:
        Tensor with the input's shape and layout. Zero vectors stay zero (no division by zero).
    """
    if embeddings.is_sparse:
        return _normalize_sparse(embeddings)
    return torch.nn.functional.normalize(embeddings, p=2, dim=-1)


@overload
def truncate_embeddings(embeddings: np.ndarray, truncate_dim: int | None) -> np.ndarray: ...


@overload
def truncate_embeddings(embeddings: Tensor, truncate_dim: int | None) -> Tensor: ...


def truncate_embeddings(embeddings: np.ndarray | Tensor, truncate_dim: int | None) -> np.ndarray | Tensor:
    """Keep only the first ``truncate_dim`` dimensions of each embedding (Matryoshka truncation).

    Args:
        embeddings: Array or tensor of shape ``(..., dim)``.
        truncate_dim: The number of leading dimensions to keep; ``None`` keeps all of them.

    Returns:
        A view of shape ``(..., min(truncate_dim, dim))`` of the same type as ``embeddings``.

    Example:
        >>> import numpy as np
        >>> truncate_embeddings(np.ones((3, 768)), 128).shape
        (3, 128)
    """
    return embeddings[..., :truncate_dim]


def batch_to_device(batch: _Batch, target_device: torch.device | str) -> _Batch:
    """Move every tensor value of a feature dictionary to ``target_device``, in place.

    Args:
        batch: A mapping from feature names to tensors (e.g. ``input_ids`` of shape ``(batch, seq_len)``) and
            other values, which are left untouched.
        target_device: The device to move the tensors to, e.g. ``"cpu"`` or ``torch.device("cuda:0")``.

    Returns:
        The same ``batch`` object, its tensors now on ``target_device``.
    """
    for key in list(batch):
        value = batch[key]
        if isinstance(value, Tensor):
            batch[key] = value.to(target_device)
    return batch
