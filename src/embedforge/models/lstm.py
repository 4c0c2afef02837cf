"""LSTM: a (bidirectional) LSTM over the token embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from embedforge.models.base import Features, Module


class LSTM(Module):
    """Runs ``torch.nn.LSTM`` (parameters ``encoder.*``) over the non-padding tokens of each text.

    Reads ``token_embeddings`` ``(batch, seq_len, embedding_dimension)`` and ``sentence_lengths`` ``(batch,)``
    (written by :class:`~embedforge.models.WordEmbeddings`); writes ``token_embeddings``
    ``(batch, max(sentence_lengths), hidden_dim * (2 if bidirectional else 1))``, zero past each length. A
    length of 0 is treated as 1.

    Args:
        embedding_dimension: Size of the input token embeddings (saved configs before 6.0 call it
            ``word_embedding_dimension``).
        hidden_dim: Hidden size of each direction.
        num_layers: Stacked LSTM layers.
        dropout: Dropout between stacked layers.
        bidirectional: Run a backward LSTM too and concatenate both directions.
    """

    config_file_name: ClassVar[str] = "lstm_config.json"
    config_keys: ClassVar[tuple[str, ...]] = (
        "embedding_dimension",
        "hidden_dim",
        "num_layers",
        "dropout",
        "bidirectional",
    )

    def __init__(
        self,
        embedding_dimension: int,
        hidden_dim: int,
        num_layers: int = 1,
        dropout: float = 0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.embeddings_dimension = hidden_dim * 2 if bidirectional else hidden_dim
        self.encoder = nn.LSTM(
            embedding_dimension,
            hidden_dim,
            num_layers=num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            batch_first=True,
        )

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Replace ``token_embeddings`` by the LSTM outputs ``(batch, max_length, output_dim)``."""
        lengths = torch.clamp(features["sentence_lengths"], min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            features["token_embeddings"], lengths, batch_first=True, enforce_sorted=False
        )
        outputs, _ = self.encoder(packed)
        features["token_embeddings"] = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True)[0]
        return features

    def get_embedding_dimension(self) -> int:
        """The size of the output token embeddings."""
        return self.embeddings_dimension

    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Save as :meth:`Module.save` does, from CPU (safetensors cannot write an LSTM's GPU weights)."""
        device = next(self.parameters()).device
        self.cpu()
        try:
            super().save(output_path, safe_serialization=safe_serialization)
        finally:
            self.to(device)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LSTM:
        """Build from a saved config, accepting the pre-6.0 key ``word_embedding_dimension``."""
        config = dict(config)
        if "word_embedding_dimension" in config:
            config.setdefault("embedding_dimension", config.pop("word_embedding_dimension"))
        return cls(**config)
