"""Embedding the text columns of a batch: the one place where losses run the model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from torch import Tensor, nn

if TYPE_CHECKING:
    from embedforge.models.base import Features

__all__ = ["embed_columns"]


def embed_columns(model: nn.Module, sentence_features: Iterable[Features]) -> list[Tensor]:
    """Run ``model`` once per text column and return each column's sentence embeddings.

    Each column is embedded at its own padded width, so a short anchor column is not padded to the length of
    long documents. The feature dicts are passed to the model as they are (modules may add outputs to them).

    Args:
        model: A model whose forward maps features to a dict holding ``"sentence_embedding"``.
        sentence_features: One tokenized batch per text column, ``input_ids`` of shape ``(batch, seq)``….

    Returns:
        One ``(batch, dim)`` tensor per column, in column order.
    """
    return [model(features)["sentence_embedding"] for features in sentence_features]
