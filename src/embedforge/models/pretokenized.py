"""Token ids of many texts, tokenized once without padding and padded batch by batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from embedforge.engine.varlen import VARLEN_KEY, VarlenLayout
from embedforge.models.base import Features


@dataclass(frozen=True)
class PreTokenized:
    """Unpadded token-id columns (``input_ids``, ``attention_mask``…) for a list of texts.

    Tokenizing every text once up front gives exact token lengths, so batches can be formed from texts of
    equal token length (little padding), and no text is tokenized twice.

    Attributes:
        columns: Per column, one list of ids per text.
        pad_values: Value used to pad each column (``pad_token_id`` for ids, 0 for masks).
        left_padding: Pad on the left (decoder-style tokenizers) instead of the right.
        extra: Values copied into every batch unchanged, e.g. ``prompt_length``.
        varlen: Add each batch's packed layout (:class:`~embedforge.engine.varlen.VarlenLayout`, from the known
            lengths) so that the model runs it unpadded (GPU ``encode``); right padding only.
    """

    columns: dict[str, list[list[int]]]
    pad_values: dict[str, int]
    left_padding: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    varlen: bool = False

    @property
    def lengths(self) -> list[int]:
        """Number of tokens of each text."""
        return [len(ids) for ids in self.columns["input_ids"]]

    def collate(self, indices: Sequence[int]) -> Features:
        """Pad the texts at ``indices`` into a batch: tensors of shape ``(len(indices), longest)``."""
        batch: Features = {}
        for name, rows in self.columns.items():
            selected = [rows[index] for index in indices]
            longest = max((len(row) for row in selected), default=0)
            pad = self.pad_values.get(name, 0)
            if self.left_padding:
                padded = [[pad] * (longest - len(row)) + row for row in selected]
            else:
                padded = [row + [pad] * (longest - len(row)) for row in selected]
            batch[name] = torch.tensor(padded, dtype=torch.long)
        batch.update(self.extra)
        if self.varlen and not self.left_padding and len(indices):
            lengths = [len(self.columns["input_ids"][index]) for index in indices]
            batch[VARLEN_KEY] = VarlenLayout.from_lengths(lengths, max(lengths))
        return batch
