"""CNN: 1-D convolutions with several kernel sizes over the token embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from embedforge.models.base import Features, Module


class CNN(Module):
    """Runs one ``Conv1d`` per kernel size over ``token_embeddings`` and concatenates their channels.

    Reads ``token_embeddings`` ``(batch, seq_len, in_embedding_dimension)``; writes ``token_embeddings``
    ``(batch, seq_len', out_channels * len(kernel_sizes))``, where ``seq_len' == seq_len`` for stride 1 and odd
    kernel sizes (each convolution is padded by ``(kernel_size - 1) // 2``). Parameters: ``convs.{i}.weight``,
    ``convs.{i}.bias``.

    Args:
        in_embedding_dimension: Size of the input token embeddings (saved configs before 6.0 call it
            ``in_word_embedding_dimension``).
        out_channels: Output channels of each convolution.
        kernel_sizes: One convolution per kernel size.
        stride_sizes: Stride of each convolution; default 1 for all.

    Raises:
        ValueError: If ``stride_sizes`` and ``kernel_sizes`` differ in length.
    """

    config_file_name: ClassVar[str] = "cnn_config.json"
    config_keys: ClassVar[tuple[str, ...]] = ("in_embedding_dimension", "out_channels", "kernel_sizes", "stride_sizes")

    def __init__(
        self,
        in_embedding_dimension: int,
        out_channels: int = 256,
        kernel_sizes: Sequence[int] = (1, 3, 5),
        stride_sizes: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.in_embedding_dimension = in_embedding_dimension
        self.out_channels = out_channels
        self.kernel_sizes = list(kernel_sizes)
        self.stride_sizes = [1] * len(self.kernel_sizes) if stride_sizes is None else list(stride_sizes)
        if len(self.stride_sizes) != len(self.kernel_sizes):
            raise ValueError(
                f"CNN expects one stride per kernel size, got kernel_sizes={self.kernel_sizes} and "
                f"stride_sizes={self.stride_sizes}. Give stride_sizes the same length, or leave it None for stride 1."
            )
        self.embeddings_dimension = out_channels * len(self.kernel_sizes)
        self.convs = nn.ModuleList(
            nn.Conv1d(
                in_channels=in_embedding_dimension,
                out_channels=out_channels,
                kernel_size=kernel_size,
                stride=stride,
                padding=(kernel_size - 1) // 2,
            )
            for kernel_size, stride in zip(self.kernel_sizes, self.stride_sizes, strict=True)
        )

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Replace ``token_embeddings`` by the concatenated convolution outputs ``(batch, seq_len', out_dim)``."""
        channels_first = features["token_embeddings"].transpose(1, -1)  # (batch, dim, seq_len)
        outputs = torch.cat([conv(channels_first) for conv in self.convs], dim=1)
        features["token_embeddings"] = outputs.transpose(1, -1)
        return features

    def get_embedding_dimension(self) -> int:
        """The size of the output token embeddings, ``out_channels * len(kernel_sizes)``."""
        return self.embeddings_dimension

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CNN:
        """Build from a saved config, accepting the pre-6.0 key ``in_word_embedding_dimension``."""
        config = dict(config)
        if "in_word_embedding_dimension" in config:
            config.setdefault("in_embedding_dimension", config.pop("in_word_embedding_dimension"))
        return cls(**config)
