"""Dropout: randomly zero entries of the sentence embedding during training."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from embedforge.models.base import Features, Module


class Dropout(Module):
    """Applies dropout to ``sentence_embedding`` ``(batch, dim)``; the identity in eval mode.

    Args:
        dropout: Probability of zeroing each entry.
    """

    config_keys: ClassVar[tuple[str, ...]] = ("dropout",)

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.dropout = dropout
        self.dropout_layer = nn.Dropout(dropout)

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Replace ``sentence_embedding`` ``(batch, dim)`` by its dropped-out version (same shape)."""
        features["sentence_embedding"] = self.dropout_layer(features["sentence_embedding"])
        return features
