"""Tensor helpers, at the path sentence-transformers names ``util.tensor``.

The converters and the dense helpers live in :mod:`embedforge.util.tensors` and are the same objects here. This
module adds the sparse helpers (top-k sparsification, SciPy conversion, per-dimension counts) and the padding
helpers that multi-vector (late-interaction) code uses to line up token embeddings of different lengths.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import torch
from torch import Tensor

from embedforge.util.tensors import (
    _convert_to_batch,
    _convert_to_batch_tensor,
    _convert_to_float_tensor,
    _convert_to_tensor,
    _tensor_to_numpy,
    batch_to_device,
    normalize_embeddings,
    truncate_embeddings,
)

if TYPE_CHECKING:
    from scipy.sparse import coo_matrix

__all__ = [
    "_convert_to_batch",
    "_convert_to_batch_tensor",
    "_convert_to_float_tensor",
    "_convert_to_tensor",
    "_move_tensors_to_cpu",
    "batch_to_device",
    "cat_padded_token_embeddings",
    "compute_count_vector",
    "normalize_embeddings",
    "repad_flattened_features",
    "select_max_active_dims",
    "stack_padded_token_embeddings",
    "to_scipy_coo",
    "truncate_embeddings",
]

# Keys that only describe a flattened (FlashAttention-2 "packed") batch and mean nothing once it is padded again.
_FLATTENING_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k", "seq_idx", "position_ids")


@overload
def select_max_active_dims(embeddings: np.ndarray | Tensor, max_active_dims: int) -> Tensor: ...


@overload
def select_max_active_dims(embeddings: np.ndarray, max_active_dims: None) -> np.ndarray: ...


@overload
def select_max_active_dims(embeddings: Tensor, max_active_dims: None) -> Tensor: ...


def select_max_active_dims(embeddings: np.ndarray | Tensor, max_active_dims: int | None) -> np.ndarray | Tensor:
    """Keep the ``max_active_dims`` largest-magnitude values of each embedding and zero the rest.

    Args:
        embeddings: Dense array or tensor of shape ``(..., dim)``; never modified.
        max_active_dims: How many values to keep per embedding; ``None`` keeps everything.

    Returns:
        ``embeddings`` itself when ``max_active_dims`` is None, else a new dense tensor of the same shape in which
        all but the top ``min(max_active_dims, dim)`` values (by absolute value, sign kept) of each row are zero.

    Raises:
        ValueError: If ``max_active_dims`` is zero or negative.
    """
    if max_active_dims is None:
        return embeddings
    if max_active_dims <= 0:
        raise ValueError(
            f"max_active_dims must be a positive integer or None, got {max_active_dims}. "
            "Pass the number of values to keep per embedding, or None to keep all of them."
        )
    tensor = _convert_to_tensor(embeddings)
    keep = min(max_active_dims, tensor.shape[-1])
    top_indices = tensor.abs().topk(keep, dim=-1).indices
    sparsified = torch.zeros_like(tensor)
    sparsified.scatter_(-1, top_indices, tensor.gather(-1, top_indices))
    return sparsified


def repad_flattened_features(features: dict[str, Any]) -> dict[str, Any]:
    """Turn a flattened FlashAttention-2 batch back into a padded one, in place.

    A flattened batch holds every sequence back to back: ``token_embeddings`` of shape ``(1, total_tokens, dim)``,
    ``input_ids`` of shape ``(1, total_tokens)``, no ``attention_mask``, and the sequence boundaries as cumulative
    lengths in ``cu_seq_lens_q``. Call this only when ``"cu_seq_lens_q"`` is in ``features``.

    Args:
        features: The flattened feature dictionary; it is modified and returned.

    Returns:
        ``features`` with ``token_embeddings`` of shape ``(batch, max_len, dim)`` and ``input_ids`` of shape
        ``(batch, max_len)`` (zero padded), a boolean ``attention_mask`` of shape ``(batch, max_len)``, and the
        flattening keys (``cu_seq_lens_*``, ``max_length_*``, ``seq_idx``, ``position_ids``) removed.
    """
    boundaries = features["cu_seq_lens_q"].tolist()
    spans = list(itertools.pairwise(boundaries))
    flat_embeddings = features["token_embeddings"][0]
    flat_ids = features["input_ids"][0]
    pad_sequence = torch.nn.utils.rnn.pad_sequence
    features["token_embeddings"] = pad_sequence(
        [flat_embeddings[start:end] for start, end in spans], batch_first=True, padding_value=0.0
    )
    features["input_ids"] = pad_sequence([flat_ids[start:end] for start, end in spans], batch_first=True)
    lengths = torch.tensor([end - start for start, end in spans], device=flat_embeddings.device)
    positions = torch.arange(features["input_ids"].shape[1], device=flat_embeddings.device)
    features["attention_mask"] = positions.unsqueeze(0) < lengths.unsqueeze(1)
    for key in _FLATTENING_KEYS:
        features.pop(key, None)
    return features


def _pad_token_axis(embeddings: list[Tensor], masks: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """Zero-pad every ``(B_i, T_i, D)`` embedding and ``(B_i, T_i)`` mask to the largest ``T_i``.

    Args:
        embeddings: Token embeddings, one tensor per column or chunk.
        masks: Their token masks, in the same order.

    Returns:
        The padded lists; the inputs themselves when every ``T_i`` is already equal.
    """
    width = max(embedding.size(1) for embedding in embeddings)
    if all(embedding.size(1) == width for embedding in embeddings):
        return embeddings, masks
    padded_embeddings = [torch.nn.functional.pad(e, (0, 0, 0, width - e.size(1))) for e in embeddings]
    padded_masks = [torch.nn.functional.pad(m, (0, width - m.size(1))) for m in masks]
    return padded_embeddings, padded_masks


def stack_padded_token_embeddings(embeddings: list[Tensor], masks: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Stack per-column token embeddings into one tensor, padding the token axis to the longest column.

    Multi-vector losses use this to build the documents tensor from several document columns.

    Args:
        embeddings: ``N`` tensors of shape ``(B, T_i, D)``.
        masks: ``N`` masks of shape ``(B, T_i)``; padding positions are zero/False.

    Returns:
        Embeddings of shape ``(B, N, T_max, D)`` and masks of shape ``(B, N, T_max)``.
    """
    embeddings, masks = _pad_token_axis(embeddings, masks)
    return torch.stack(embeddings, dim=1), torch.stack(masks, dim=1)


def cat_padded_token_embeddings(embeddings: list[Tensor], masks: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Concatenate token-embedding chunks along the batch axis, padding the token axis to the longest chunk.

    GradCache-style losses encode mini-batches separately and join the chunks with this.

    Args:
        embeddings: Chunks of shape ``(B_i, T_i, D)``.
        masks: Their masks, of shape ``(B_i, T_i)``.

    Returns:
        Embeddings of shape ``(sum(B_i), T_max, D)`` and masks of shape ``(sum(B_i), T_max)``.
    """
    embeddings, masks = _pad_token_axis(embeddings, masks)
    return torch.cat(embeddings, dim=0), torch.cat(masks, dim=0)


def _move_tensors_to_device(value: Any, target_device: str | torch.device) -> Any:
    """Move every tensor nested in dicts, lists and tuples to ``target_device``; other values are kept.

    Args:
        value: A tensor, or a (nested) dict, list or tuple holding tensors and other values.
        target_device: Where to move the tensors.

    Returns:
        The same structure (new containers) with its tensors on ``target_device``.
    """
    device = torch.device(target_device)
    if isinstance(value, Tensor):
        return value if value.device == device or (device.type == "cpu" == value.device.type) else value.to(device)
    if isinstance(value, dict):
        return {key: _move_tensors_to_device(item, device) for key, item in value.items()}
    if isinstance(value, list):
        return [_move_tensors_to_device(item, device) for item in value]
    if isinstance(value, tuple):
        return tuple(_move_tensors_to_device(item, device) for item in value)
    return value


def _move_tensors_to_cpu(value: Any) -> Any:
    """Move every tensor nested in ``value`` to the CPU, keeping the container structure.

    Results sent back from multi-process workers must not hold accelerator tensors: those travel as shared
    handles that die with the worker.

    Args:
        value: A tensor, or a (nested) dict, list or tuple holding tensors and other values.

    Returns:
        The same structure with its tensors on the CPU.
    """
    return _move_tensors_to_device(value, "cpu")


def to_scipy_coo(x: Tensor) -> coo_matrix:
    """Convert a 2-D sparse COO tensor to a SciPy ``coo_matrix``.

    Args:
        x: Sparse COO tensor of shape ``(rows, cols)``.

    Returns:
        A ``scipy.sparse.coo_matrix`` of the same shape holding the same entries (bfloat16 values become float32).

    Example:
        >>> x = torch.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0], (3, 3))
        >>> to_scipy_coo(x).toarray()[:2]
        array([[0., 1., 0.],
               [2., 0., 0.]], dtype=float32)
    """
    from scipy.sparse import coo_matrix

    x = x.coalesce()
    indices = x.indices().cpu().numpy()
    return coo_matrix((_tensor_to_numpy(x.values()), (indices[0], indices[1])), shape=tuple(x.shape))


def compute_count_vector(embeddings: Tensor) -> Tensor:
    """Count, per dimension, how many embeddings have a non-zero value there.

    Args:
        embeddings: Sparse or dense tensor of shape ``(batch, vocab_size)`` or ``(vocab_size,)``.

    Returns:
        int32 tensor of shape ``(vocab_size,)``; for a single embedding it is a 0/1 indicator.

    Raises:
        ValueError: If ``embeddings`` is neither 1-D nor 2-D.
    """
    if embeddings.dim() not in (1, 2):
        raise ValueError(
            f"compute_count_vector expects a 1-D (vocab_size,) or 2-D (batch, vocab_size) tensor, "
            f"got a {embeddings.dim()}-D tensor of shape {tuple(embeddings.shape)}."
        )
    sparse = (embeddings if embeddings.is_sparse else embeddings.to_sparse()).coalesce()
    counts = torch.zeros(sparse.size(-1), device=sparse.device, dtype=torch.int32)
    dimensions = sparse.indices()[-1]
    if dimensions.numel() > 0:
        unique_dimensions, occurrences = torch.unique(dimensions, return_counts=True)
        counts[unique_dimensions] = occurrences.int()
    return counts
