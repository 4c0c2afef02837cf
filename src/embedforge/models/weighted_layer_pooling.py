"""WeightedLayerPooling: token embeddings as a learned weighted mean of the hidden layers."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from embedforge.models.base import Features, Module


class WeightedLayerPooling(Module):
    """Replaces ``token_embeddings`` by a weighted mean of the hidden states from ``layer_start`` on.

    Reads ``all_layer_embeddings``, the ``num_hidden_layers + 1`` hidden states (embeddings first), each
    ``(batch, seq_len, dim)`` (a Transformer module writes them when its model outputs hidden states); without
    that key the features pass through unchanged. Writes ``token_embeddings`` ``(batch, seq_len, dim)``::

        token_embeddings = sum_l w_l * h_l / sum_l w_l,   l = layer_start .. num_hidden_layers

    Args:
        embedding_dimension: Size ``dim`` of the token embeddings (saved configs before 6.0 call it
            ``word_embedding_dimension``).
        num_hidden_layers: Number of transformer layers.
        layer_start: First hidden state included (0 is the embedding layer).
        layer_weights: Initial weights ``(num_hidden_layers + 1 - layer_start,)``; default all ones.
    """

    config_keys: ClassVar[tuple[str, ...]] = ("embedding_dimension", "layer_start", "num_hidden_layers")

    def __init__(
        self,
        embedding_dimension: int,
        num_hidden_layers: int = 12,
        layer_start: int = 4,
        layer_weights: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.layer_start = layer_start
        self.num_hidden_layers = num_hidden_layers
        if layer_weights is None:
            layer_weights = torch.ones(num_hidden_layers + 1 - layer_start, dtype=torch.float)
        self.layer_weights = layer_weights if isinstance(layer_weights, nn.Parameter) else nn.Parameter(layer_weights)

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Write ``token_embeddings`` ``(batch, seq_len, dim)`` when ``all_layer_embeddings`` is present."""
        all_layers = features.get("all_layer_embeddings")
        if all_layers is None:
            return features
        layers = torch.stack(all_layers)[self.layer_start :]  # (layers, batch, seq_len, dim)
        weights = self.layer_weights[:, None, None, None].expand(layers.size())
        features["token_embeddings"] = (weights * layers).sum(dim=0) / self.layer_weights.sum()
        return features

    def get_embedding_dimension(self) -> int:
        """The size of the token embeddings."""
        return self.embedding_dimension

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WeightedLayerPooling:
        """Build from a saved config, accepting the pre-6.0 key ``word_embedding_dimension``."""
        config = dict(config)
        if "word_embedding_dimension" in config:
            config.setdefault("embedding_dimension", config.pop("word_embedding_dimension"))
        return cls(**config)
