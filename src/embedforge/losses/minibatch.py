"""Splitting one tokenized column into mini-batches, for the GradCache losses.

A column's features hold per-example tensors ``(batch, seq_len)`` (``input_ids``, ``attention_mask``…) and
per-batch metadata (``prompt_length``, a route's ``task``) that every mini-batch shares unchanged.
"""

from __future__ import annotations

import bisect
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from embedforge.engine.buckets import BUCKET_KEY, bucket_width
from embedforge.engine.row_lengths import ROW_LENGTHS_KEY, RowLengths
from embedforge.engine.varlen import VARLEN_KEY, VarlenLayout

if TYPE_CHECKING:
    from embedforge.models.base import Features

__all__ = ["check_mini_batch_options", "feature_batch_size", "minibatch_ranges", "slice_features"]

_BATCH_KEYS = ("input_ids", "attention_mask")


def check_mini_batch_options(owner: str, mini_batch_size: int, mini_batch_num_tokens: int | None) -> None:
    """Reject mini-batch settings that cannot split a batch.

    Args:
        owner: The loss class name, for the message.
        mini_batch_size: Sequences per mini-batch; must be positive.
        mini_batch_num_tokens: Token budget per mini-batch; None or positive.

    Raises:
        ValueError: Naming the bad value and the accepted range.
    """
    if not (isinstance(mini_batch_size, int) and mini_batch_size > 0):
        raise ValueError(f"{owner}: mini_batch_size must be a positive integer, got {mini_batch_size!r}.")
    if mini_batch_num_tokens is not None and not (isinstance(mini_batch_num_tokens, int) and mini_batch_num_tokens > 0):
        raise ValueError(
            f"{owner}: mini_batch_num_tokens must be a positive integer or None, got {mini_batch_num_tokens!r}."
        )


def feature_batch_size(features: Features) -> int:
    """Number of examples in a column's features: the first dimension of ``input_ids`` (or another tensor).

    Raises:
        ValueError: If the features hold no tensor with a batch dimension.
    """
    for key in _BATCH_KEYS:
        value = features.get(key)
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    for value in features.values():
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    raise ValueError(
        f"Cannot tell the batch size of features with keys {sorted(features)}: none is a tensor with a batch "
        "dimension. Tokenize the column with the model's tokenize() before calling the loss."
    )


def minibatch_ranges(
    features: Features, mini_batch_size: int, mini_batch_num_tokens: int | None = None
) -> list[tuple[int, int]]:
    """The ``(begin, end)`` example ranges that split a column into mini-batches.

    Without a token budget every range holds ``mini_batch_size`` examples (the last one fewer). With
    ``mini_batch_num_tokens`` each range greedily takes as many consecutive examples as fit in the budget of
    non-padding tokens (counted from ``attention_mask``); an example longer than the budget is a range of its own.

    Args:
        features: One tokenized column.
        mini_batch_size: Examples per range (without a token budget).
        mini_batch_num_tokens: Non-padding tokens per range, or None.

    Returns:
        Consecutive, non-empty ranges covering ``0 .. batch``.

    Raises:
        ValueError: If a token budget is set but the features have no ``attention_mask``.
    """
    batch_size = feature_batch_size(features)
    if mini_batch_num_tokens is None:
        return [(begin, min(begin + mini_batch_size, batch_size)) for begin in range(0, batch_size, mini_batch_size)]
    mask = features.get("attention_mask")
    if not isinstance(mask, Tensor):
        raise ValueError(
            "mini_batch_num_tokens needs the token count of every sequence, read from 'attention_mask', but the "
            f"features only hold {sorted(features)}. Use mini_batch_size (and mini_batch_num_tokens=None) instead."
        )
    lengths = _host_lengths(features)
    cumulative = list(accumulate(lengths)) if lengths is not None else mask.sum(dim=1).cumsum(dim=0).tolist()
    ranges, begin = [], 0
    while begin < batch_size:
        used = cumulative[begin - 1] if begin else 0
        end = max(bisect.bisect_right(cumulative, used + mini_batch_num_tokens), begin + 1)
        ranges.append((begin, end))
        begin = end
    return ranges


def slice_features(features: Features, begin: int, end: int) -> Features:
    """Examples ``begin .. end - 1`` of a column, without the padding columns that none of them uses.

    Tensors whose first dimension is the batch are sliced and a packed layout is rebuilt for the mini-batch;
    everything else (``prompt_length``, a ``task`` name, 0-d tensors) is shared unchanged. Trailing padding
    columns (right padding) are cut so that a mini-batch of short texts is not run at the width of the longest text
    of the whole batch (for bucketed features, :data:`~embedforge.engine.buckets.BUCKET_KEY`, to the bucket width
    of its own longest text); leading (left) padding is kept because positions may be derived from it.

    Args:
        features: One tokenized column, ``(batch, seq_len)`` tensors.
        begin: First example.
        end: One past the last example.

    Returns:
        A new dict; the input is not modified.
    """
    batch_size = feature_batch_size(features)
    width, keep = _kept_width(features, begin, end)
    multiple = features.get(BUCKET_KEY)
    if keep is not None and isinstance(multiple, int):  # bucketed batch: the cut keeps to a bucket width
        keep = bucket_width(keep, multiple, width)
        keep = None if keep >= width else keep
    sliced: dict[str, Any] = {}
    for key, value in features.items():
        if isinstance(value, VarlenLayout):  # the mini-batch's own layout, from the host-side lengths
            sliced[key] = value.slice(begin, end, keep)
        elif isinstance(value, RowLengths):
            sliced[key] = value.slice(begin, end)
        elif not isinstance(value, Tensor) or value.ndim == 0 or value.shape[0] != batch_size:
            sliced[key] = value
        elif keep is not None and value.ndim >= 2 and value.shape[1] == width:
            sliced[key] = value[begin:end, :keep]
        else:
            sliced[key] = value[begin:end]
    return sliced


def _kept_width(features: Features, begin: int, end: int) -> tuple[int | None, int | None]:
    """``(seq_len, columns to keep)`` of a mini-batch, or ``(seq_len, None)`` when nothing can be cut."""
    mask = features.get("attention_mask")
    if not isinstance(mask, Tensor) or mask.ndim != 2:
        return None, None
    lengths = _host_lengths(features)
    if lengths is not None:  # known on the host: no device sync
        longest = max(lengths[begin:end])
        return mask.shape[1], (longest if longest < mask.shape[1] else None)
    used = mask[begin:end].bool().any(dim=0)
    if not bool(used.any()):
        return mask.shape[1], None
    last = int(torch.nonzero(used).max().item())
    return mask.shape[1], (last + 1 if last + 1 < mask.shape[1] else None)


def _host_lengths(features: Features) -> tuple[int, ...] | None:
    """Each text's real tokens, from the column's packed layout or row lengths (made on the host), or None."""
    for key, kind in ((VARLEN_KEY, VarlenLayout), (ROW_LENGTHS_KEY, RowLengths)):
        value = features.get(key)
        if isinstance(value, kind):
            return value.lengths
    return None
