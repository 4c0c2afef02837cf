"""VarlenLayout: where the real tokens of a right-padded batch sit, computed on the CPU side with the batch.

The unpadded forward (:mod:`embedforge.models.packing`) needs the flat positions of a batch's real tokens, their
position ids and, for variable-length attention, the cumulative sequence lengths and the longest text. Derived on
the device from the attention mask, the first two need ``nonzero`` (a device-to-host synchronisation: the number of
real tokens decides the output's size) and the last two a ``max().item()``. The collator therefore computes them
from the mask while it is still on the CPU (in a DataLoader worker when there are workers), puts the layout in the
column's features under :data:`VARLEN_KEY`, and the layout travels to the device with the batch (``.to()`` and
``.pin_memory()``, which torch's DataLoader and accelerate call on such objects); the step then only reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from embedforge.engine.buckets import BUCKET_KEY
from embedforge.engine.row_lengths import right_padded_lengths
from embedforge.engine.transfer import host_to_device, pins_memory

__all__ = ["JOINABLE_KEYS", "VARLEN_KEY", "VarlenLayout", "add_varlen_layout", "join_columns"]

VARLEN_KEY = "varlen_layout"
"""Key of a column's :class:`VarlenLayout` in its features dict."""
JOINABLE_KEYS = frozenset({"input_ids", "attention_mask", "token_type_ids", VARLEN_KEY, BUCKET_KEY})
"""Features that :func:`join_columns` can join (anything else, e.g. ``prompt_length``, keeps columns apart)."""


@dataclass(frozen=True)
class VarlenLayout:
    """The packed layout of one right-padded ``(batch, seq_len)`` column.

    Attributes:
        lengths: Real tokens of each text (host-side ints).
        seq_len: The padded width of the batch.
        index: ``(tokens,)`` int64, flat positions of the real tokens in the ``batch * seq_len`` grid.
        cu_seqlens: ``(batch + 1,)`` int64, cumulative lengths (the offsets of each text in the packed row).
        position_ids: ``(1, tokens)`` int64, each token's position within its text.
        max_seqlen: The longest text's real tokens (a plain int: attention kernels size their work by it).
        min_seqlen: The shortest text's real tokens.
        has_padding: Whether the padded grid holds any padding position.

    The forward reads only the tensors and the three scalars, never ``lengths``: under ``torch.compile`` a read of
    the tuple would guard on every length and recompile for every batch.
    """

    lengths: tuple[int, ...]
    seq_len: int
    index: Tensor
    cu_seqlens: Tensor
    position_ids: Tensor
    max_seqlen: int
    min_seqlen: int
    has_padding: bool

    @classmethod
    def from_lengths(cls, lengths: Sequence[int], seq_len: int) -> VarlenLayout:
        """The layout of texts of ``lengths`` real tokens, right-padded to ``seq_len`` (built on the CPU)."""
        sizes = tuple(int(n) for n in lengths)
        longest, shortest, total = max(sizes, default=0), min(sizes, default=0), sum(sizes)
        if sizes and (shortest < 1 or longest > seq_len):
            raise ValueError(f"Every text needs 1..{seq_len} real tokens; got lengths {list(sizes)}.")
        counts = torch.tensor(sizes, dtype=torch.long)
        cu_seqlens = torch.zeros(len(sizes) + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=cu_seqlens[1:])
        starts = torch.arange(len(sizes), dtype=torch.long) * seq_len
        row_starts = torch.repeat_interleave(starts, counts, output_size=total)
        positions = torch.arange(total, dtype=torch.long) - torch.repeat_interleave(
            cu_seqlens[:-1], counts, output_size=total
        )
        padded = total < len(sizes) * seq_len
        return cls(sizes, seq_len, row_starts + positions, cu_seqlens, positions[None], longest, shortest, padded)

    @classmethod
    def from_attention_mask(cls, attention_mask: Tensor) -> VarlenLayout | None:
        """The layout of a CPU ``(batch, seq_len)`` mask; None unless it is right padding, one token or more a row.

        Every row must be ones then zeros with at least one real token; for any other mask (left padding, holes,
        an empty text, a mask on a GPU) there is no layout and the forward derives what it needs itself.
        """
        lengths = right_padded_lengths(attention_mask)
        return None if lengths is None else cls.from_lengths(lengths, attention_mask.shape[1])

    @property
    def batch_size(self) -> int:
        """Number of texts."""
        return len(self.lengths)

    @property
    def device(self) -> torch.device:
        """Where the layout's tensors are."""
        return self.index.device

    def to(self, device: torch.device | str, non_blocking: bool = False) -> VarlenLayout:
        """The layout with its tensors on ``device`` (copied without blocking from pinned memory if asked)."""
        moved = [t.to(device, non_blocking=non_blocking) for t in (self.index, self.cu_seqlens, self.position_ids)]
        return dataclasses.replace(self, index=moved[0], cu_seqlens=moved[1], position_ids=moved[2])

    def pin_memory(self) -> VarlenLayout:
        """The layout with its tensors in page-locked memory (called by DataLoader(pin_memory=True))."""
        pinned = [t.pin_memory() for t in (self.index, self.cu_seqlens, self.position_ids)]
        return dataclasses.replace(self, index=pinned[0], cu_seqlens=pinned[1], position_ids=pinned[2])

    def slice(self, begin: int, end: int, seq_len: int | None = None) -> VarlenLayout:
        """The layout of texts ``begin .. end - 1`` in a grid cut to ``seq_len`` columns (default: the same width).

        Built on the CPU from the host-side lengths and copied to this layout's device without waiting for it.
        """
        layout = VarlenLayout.from_lengths(self.lengths[begin:end], seq_len or self.seq_len)
        return host_to_device(layout, self.device, pin=pins_memory(self.device))


def add_varlen_layout(features: dict[str, Any]) -> dict[str, Any]:
    """Add the :class:`VarlenLayout` of ``features["attention_mask"]`` under :data:`VARLEN_KEY`, in place.

    Only for a right-padded CPU ``(batch, seq_len)`` mask; other features are returned unchanged.
    """
    mask = features.get("attention_mask")
    if isinstance(mask, Tensor):
        layout = VarlenLayout.from_attention_mask(mask)
        if layout is not None:
            features[VARLEN_KEY] = layout
    return features


def join_columns(columns: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The text columns of a batch as one batch (rows of the first column, then the second...), or None.

    Joined, the columns go through the encoder in one forward pass instead of one per column: the same work on
    the real tokens (the unpadded forward never computes padded positions), half or a third of the kernel launches.
    Each column is padded to the widest one (padded positions are never read: the joined layout skips them).

    Args:
        columns: Tokenized columns, each with a :class:`VarlenLayout` and only :data:`JOINABLE_KEYS`.

    Returns:
        The joined features with their layout (built from the host-side lengths, copied to the device without
        blocking), or None when there are fewer than two columns or they cannot be joined (no layout, other keys,
        different key sets).
    """
    if len(columns) < 2:
        return None
    keys = set(columns[0])
    if VARLEN_KEY not in keys or not keys <= JOINABLE_KEYS or any(set(column) != keys for column in columns[1:]):
        return None
    layouts: list[VarlenLayout] = [column[VARLEN_KEY] for column in columns]
    width = max(layout.seq_len for layout in layouts)
    joined: dict[str, Any] = {}
    if BUCKET_KEY in keys:
        if len({column[BUCKET_KEY] for column in columns}) > 1:
            return None
        joined[BUCKET_KEY] = columns[0][BUCKET_KEY]
    for name in keys - {VARLEN_KEY, BUCKET_KEY}:
        parts = [column[name] for column in columns]
        joined[name] = torch.cat([torch.nn.functional.pad(part, (0, width - part.shape[1])) for part in parts])
    lengths = [length for layout in layouts for length in layout.lengths]
    device = layouts[0].device
    joined[VARLEN_KEY] = host_to_device(VarlenLayout.from_lengths(lengths, width), device, pin=pins_memory(device))
    return joined
