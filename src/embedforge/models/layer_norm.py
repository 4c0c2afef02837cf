"""LayerNorm: layer normalisation of the sentence embedding."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from embedforge.models.base import Features, Module


class LayerNorm(Module):
    """Applies a trainable ``torch.nn.LayerNorm`` (parameters ``norm.weight``, ``norm.bias``) to the embedding.

    Args:
        dimension: Size ``dim`` of ``sentence_embedding`` ``(batch, dim)``.
    """

    config_keys: ClassVar[tuple[str, ...]] = ("dimension",)

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension
        self.norm = nn.LayerNorm(dimension)

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Normalise ``sentence_embedding`` ``(batch, dim)`` in place of the old value (same shape)."""
        features["sentence_embedding"] = self.norm(features["sentence_embedding"])
        return features

    def get_sentence_embedding_dimension(self) -> int:
        """The embedding size, unchanged by normalisation."""
        return self.dimension

    get_embedding_dimension = get_sentence_embedding_dimension
