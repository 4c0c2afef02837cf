"""The building blocks of the MaxSim functions in :mod:`embedforge.util.maxsim`.

A multi-vector embedding is one vector per token, shape ``(tokens, dim)``. The MaxSim score of a query ``q`` and a
document ``d`` is ``Σ_i max_j q_i · d_j``: every query token picks its best-matching document token. MeanMaxSim
divides that by the number of real query tokens, so scores of queries of different lengths are comparable.

Inputs on each side are a padded 3-D tensor/array ``(batch, tokens, dim)``, a list of ``(tokens_i, dim)`` items, or
one 2-D item (scored as a batch of one). Padding is described by masks, or derived: from the item lengths for lists,
and from all-zero token rows for padded tensors. Work is split into chunks whose padded size stays within an element
budget, so one long item does not make the whole batch pay for its padding. Scores are accumulated in float32.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor

from embedforge.util.logging import warn_once
from embedforge.util.tensors import _convert_to_tensor

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "EMPTY_DOCUMENT_SCORE",
    "MaskLike",
    "MultiVector",
]

logger = logging.getLogger(__name__)

MultiVector = list | np.ndarray | Tensor
"""One side of a MaxSim call: ``(batch, tokens, dim)``, a list of ``(tokens_i, dim)``, or one ``(tokens, dim)``."""

MaskLike = Tensor | np.ndarray | list | None
"""A token mask: ``(batch, tokens)``, ``(tokens,)`` beside a single item, or a list of per-item 1-D masks."""

DEFAULT_CHUNK_ELEMENTS = 100_000_000
"""Default element budget per chunk (about 400 MB in float32)."""

EMPTY_DOCUMENT_SCORE = -1e9
"""The score of a document without any unmasked token: below every real score, and finite."""


def _as_batch(embeddings: MultiVector, mask: MaskLike, name: str) -> tuple[MultiVector, Tensor | None]:
    """Bring one side to batch form and its mask to a single tensor.

    Args:
        embeddings: The side's embeddings in any accepted form.
        mask: Its mask in any accepted form.
        name: The argument name of the mask, for errors.

    Returns:
        ``(embeddings, mask)`` where a single 2-D item became a batch of one and the mask is a tensor or None.

    Raises:
        TypeError: If the mask is of an unsupported type.
    """
    if isinstance(mask, (list, tuple)):
        mask = torch.nn.utils.rnn.pad_sequence([_convert_to_tensor(item) for item in mask], batch_first=True)
    elif isinstance(mask, np.ndarray):
        mask = _convert_to_tensor(mask)
    elif mask is not None and not isinstance(mask, Tensor):
        raise TypeError(
            f"`{name}` must be a tensor, a numpy array or a list of per-item masks, got {type(mask).__name__}. "
            "Pass e.g. a boolean tensor of shape (batch, tokens)."
        )
    single = isinstance(embeddings, (np.ndarray, Tensor)) and embeddings.ndim == 2
    if single:
        embeddings = embeddings[None]
        if mask is not None and mask.ndim == 1:
            mask = mask.unsqueeze(0)
    return embeddings, mask


def _widths(embeddings: MultiVector) -> list[int]:
    """The padded token count of every item of a batch-form side."""
    if isinstance(embeddings, list):
        return [len(item) for item in embeddings]
    return [embeddings.shape[1]] * len(embeddings)


def _dim(embeddings: MultiVector) -> int:
    """The embedding dimension of a batch-form side, without padding it."""
    if isinstance(embeddings, list):
        return next((len(item[0]) for item in embeddings if len(item)), 1)
    return embeddings.shape[-1]


def _device_of(embeddings: MultiVector) -> torch.device | None:
    """The device of a side's tensors; None for numpy arrays and empty lists."""
    if isinstance(embeddings, Tensor):
        return embeddings.device
    if isinstance(embeddings, list) and embeddings and isinstance(embeddings[0], Tensor):
        return embeddings[0].device
    return None


def _check_mask_width(mask: Tensor, width: int, name: str) -> Tensor:
    """Return ``mask`` if it spans ``width`` tokens.

    Raises:
        ValueError: If it spans another number of tokens.
    """
    if mask.shape[-1] != width:
        raise ValueError(
            f"`{name}` covers {mask.shape[-1]} tokens, but the padded embeddings have {width}. "
            "Pass a mask with one entry per (padded) token."
        )
    return mask


def _derived_mask(padded: Tensor) -> Tensor:
    """``(B, T)`` mask of a padded ``(B, T, D)`` tensor: 1 for tokens with any non-zero value, 0 for zero rows."""
    return padded.any(dim=-1).to(padded.dtype)


def _pad(items: MultiVector, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Pad a slice of one side into ``(B, T, D)`` floats and give it a mask (the given one or a derived one).

    Args:
        items: A list of ``(tokens_i, dim)`` items, or a padded ``(B, T, D)`` array/tensor.
        mask: The caller's mask for these items, or None.

    Returns:
        The padded float embeddings and the mask (None only for non-3-D input without a mask).
    """
    if isinstance(items, list):
        tensors = [_convert_to_tensor(item) for item in items]
        tensors = [tensor if tensor.is_floating_point() else tensor.float() for tensor in tensors]
        padded = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True)
        if mask is None:
            lengths = torch.tensor([len(tensor) for tensor in tensors], device=padded.device)
            positions = torch.arange(padded.shape[1], device=padded.device)
            mask = (positions.unsqueeze(0) < lengths.unsqueeze(1)).to(padded.dtype)
        return padded, mask
    padded = _convert_to_tensor(items)
    if not padded.is_floating_point():
        padded = padded.float()
    if mask is None and padded.dim() == 3:
        mask = _derived_mask(padded)
    return padded, mask


def _chunk(
    embeddings: MultiVector, mask: Tensor | None, span: tuple[int, int], device: torch.device, name: str
) -> tuple[Tensor, Tensor | None]:
    """Pad the items ``span`` of one side on ``device``, with the mask cut to the chunk's own width.

    Raises:
        ValueError: If the mask is narrower than the chunk.
    """
    start, end = span
    padded, chunk_mask = _pad(embeddings[start:end], mask[start:end] if mask is not None else None)
    padded = padded.to(device)
    if chunk_mask is None:
        return padded, None
    chunk_mask = chunk_mask.to(device)
    if chunk_mask.shape[-1] > padded.shape[1]:
        chunk_mask = chunk_mask[..., : padded.shape[1]]
    return padded, _check_mask_width(chunk_mask, padded.shape[1], name)


def _spans(widths: list[int], cost_per_token: int, budget: int, cost_per_item: int = 0) -> list[tuple[int, int]]:
    """Split items into consecutive ``(start, end)`` spans whose padded cost stays within ``budget``.

    A span of ``n`` items padded to width ``w`` costs ``n * (cost_per_token * w + cost_per_item)`` elements; a span
    always holds at least one item.
    """
    spans: list[tuple[int, int]] = []
    start, width = 0, 0
    for index, item_width in enumerate(widths):
        wider = max(width, item_width)
        if index > start and (index - start + 1) * (cost_per_token * wider + cost_per_item) > budget:
            spans.append((start, index))
            start, wider = index, item_width
        width = wider
    spans.append((start, len(widths)))
    return spans


def _fill_empty(scores: Tensor, empty: Tensor) -> Tensor:
    """Give documents without any unmasked token :data:`EMPTY_DOCUMENT_SCORE` (warning once, on CPU)."""
    if empty.device.type == "cpu" and not torch.compiler.is_compiling() and bool(empty.any()):
        warn_once(
            logger,
            "Some documents have no unmasked token (e.g. every token was masked out, or the document has no "
            f"token vectors). They score {EMPTY_DOCUMENT_SCORE:.0e}, below every real document.",
        )
    return scores.masked_fill(empty, EMPTY_DOCUMENT_SCORE)


def _score_all(a: Tensor, b: Tensor, a_mask: Tensor | None, b_mask: Tensor | None) -> Tensor:
    """MaxSim of every query of a ``(A, S, D)`` chunk against every document of a ``(B, T, D)`` chunk: ``(A, B)``."""
    if b.shape[1] == 0:
        return torch.full((a.shape[0], b.shape[0]), EMPTY_DOCUMENT_SCORE, dtype=torch.float32, device=b.device)
    token_scores = torch.einsum("ash,bth->abst", a, b)
    if b_mask is not None:
        # Padding must never win the max, so it goes to the dtype minimum rather than to 0.
        token_scores.masked_fill_(~b_mask.bool()[None, :, None, :], torch.finfo(token_scores.dtype).min)
    best = token_scores.amax(dim=-1).float()
    if a_mask is not None:
        best = best * a_mask.unsqueeze(1)
    scores = best.sum(dim=-1)
    return scores if b_mask is None else _fill_empty(scores, ~b_mask.bool().any(dim=-1))


def _score_pairs(a: Tensor, b: Tensor, a_mask: Tensor | None, b_mask: Tensor | None) -> Tensor:
    """MaxSim of each aligned pair of a ``(N, S, D)`` and a ``(N, T, D)`` chunk: ``(N,)``."""
    if b.shape[1] == 0:
        return torch.full((b.shape[0],), EMPTY_DOCUMENT_SCORE, dtype=torch.float32, device=b.device)
    token_scores = torch.einsum("nsh,nth->nst", a, b)
    if b_mask is not None:
        token_scores.masked_fill_(~b_mask.bool()[:, None, :], torch.finfo(token_scores.dtype).min)
    best = token_scores.amax(dim=-1).float()
    if a_mask is not None:
        best = best * a_mask
    scores = best.sum(dim=-1)
    return scores if b_mask is None else _fill_empty(scores, ~b_mask.bool().any(dim=-1))


def _query_lengths(a: MultiVector, a_mask: Tensor | None) -> Tensor:
    """The number of real tokens of each query (at least 1), the MeanMaxSim divisor."""
    if a_mask is not None:
        counts = a_mask.bool().sum(dim=-1)
    elif isinstance(a, list):
        counts = torch.tensor([len(item) for item in a])
    else:
        counts = _derived_mask(_convert_to_tensor(a)).bool().sum(dim=-1)
    return counts.clamp(min=1)


def _divide(scores: Tensor, lengths: Tensor | None, pairwise: bool) -> Tensor:
    """Divide each query's scores by its token count when ``lengths`` is given."""
    if lengths is None:
        return scores
    lengths = lengths.to(device=scores.device, dtype=scores.dtype)
    return scores / (lengths if pairwise else lengths.unsqueeze(1))
