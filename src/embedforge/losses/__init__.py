"""Training losses, one class per file, with sentence-transformers' names and arguments."""

from __future__ import annotations

from embedforge.losses.base import InputSpec, LabelKind, Loss

__all__ = ["InputSpec", "LabelKind", "Loss"]
