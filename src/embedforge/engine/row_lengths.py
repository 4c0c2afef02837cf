"""RowLengths: each text's real-token count, known on the host, for batches that run the padded forward.

Batches with a packed layout (:class:`~embedforge.engine.varlen.VarlenLayout`) carry their lengths in it. Under CUDA
graphs the trainer's collator leaves the layouts out (:mod:`embedforge.engine.batch_shapes`): the padded forward
runs, and the GradCache losses, cutting a column into mini-batches, would have to read each mini-batch's longest
text from the attention mask on the device (a device-to-host synchronisation per mini-batch). The collator then
records the lengths here instead, from the mask while it is still on the CPU. The forward never reads them, so
under ``torch.compile`` they add no guard on their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["ROW_LENGTHS_KEY", "RowLengths", "add_row_lengths", "right_padded_lengths"]

ROW_LENGTHS_KEY = "row_lengths"
"""Key of a column's :class:`RowLengths` in its features dict."""


def right_padded_lengths(attention_mask: Tensor) -> list[int] | None:
    """The real tokens of each row of a CPU ``(batch, seq_len)`` mask that is right padding, else None.

    Every row must be ones then zeros, with at least one real token; for any other mask (left padding, holes, an
    empty text, a mask on a GPU, no rows) there are no lengths.

    Example:
        >>> right_padded_lengths(torch.tensor([[1, 1, 0], [1, 1, 1]])), right_padded_lengths(torch.tensor([[0, 1]]))
        ([2, 3], None)
    """
    if attention_mask.dim() != 2 or attention_mask.device.type != "cpu" or not attention_mask.shape[0]:
        return None
    mask = attention_mask.bool()
    lengths = mask.sum(1)
    if int(lengths.min()) < 1 or not torch.equal(mask, torch.arange(mask.shape[1]) < lengths[:, None]):
        return None
    return lengths.tolist()


@dataclass(frozen=True)
class RowLengths:
    """The real-token counts of a right-padded column, on the host.

    Attributes:
        lengths: Real tokens of each text.

    Moving a batch to a device (``.to()``, ``.pin_memory()``, which torch's DataLoader and accelerate call on such
    objects) leaves it as it is: it holds no tensor.
    """

    lengths: tuple[int, ...]

    def to(self, *args: Any, **kwargs: Any) -> RowLengths:
        """Itself: host-side numbers go to no device."""
        return self

    def pin_memory(self) -> RowLengths:
        """Itself: there is no tensor to pin."""
        return self

    def slice(self, begin: int, end: int) -> RowLengths:
        """The lengths of texts ``begin .. end - 1``."""
        return RowLengths(self.lengths[begin:end])


def add_row_lengths(features: dict[str, Any]) -> dict[str, Any]:
    """Add the :class:`RowLengths` of ``features["attention_mask"]`` under :data:`ROW_LENGTHS_KEY`, in place.

    Only for a right-padded CPU ``(batch, seq_len)`` mask; other features are returned unchanged.
    """
    mask = features.get("attention_mask")
    if isinstance(mask, Tensor):
        lengths = right_padded_lengths(mask)
        if lengths is not None:
            features[ROW_LENGTHS_KEY] = RowLengths(tuple(lengths))
    return features
