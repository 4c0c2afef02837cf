"""Embedding the text columns of a batch: the one place where losses run the model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from torch import Tensor, nn

from embedforge.engine.varlen import VARLEN_KEY, join_columns
from embedforge.model.base import BaseModel
from embedforge.models.packing import nested_attention
from embedforge.models.transformer import Transformer

if TYPE_CHECKING:
    from embedforge.models.base import Features

__all__ = ["embed_columns"]


def embed_columns(model: nn.Module, sentence_features: Iterable[Features]) -> list[Tensor]:
    """Run ``model`` on each text column and return each column's sentence embeddings.

    Each column is embedded at its own padded width, so a short anchor column is not padded to the length of
    long documents. The feature dicts are passed to the model as they are (modules may add outputs to them).
    Columns that carry packed layouts, for a model whose encoder runs them unpadded with variable-length attention
    (GPUs), go through the model in one joined forward pass instead (:func:`~embedforge.engine.varlen.join_columns`:
    the same values, fewer kernel launches); their dicts then get no outputs added.

    Args:
        model: A model whose forward maps features to a dict holding ``"sentence_embedding"``.
        sentence_features: One tokenized batch per text column, ``input_ids`` of shape ``(batch, seq)``….

    Returns:
        One ``(batch, dim)`` tensor per column, in column order.
    """
    columns = list(sentence_features)
    joined = _joined(model, columns)
    if joined is None:
        return [model(features)["sentence_embedding"] for features in columns]
    embeddings = model(joined)["sentence_embedding"]
    return list(embeddings.split([column[VARLEN_KEY].batch_size for column in columns]))


def _joined(model: nn.Module, columns: list[Features]) -> Features | None:
    """The columns joined into one batch, or None.

    Only for a plain SentenceTransformer whose Transformer runs the columns unpadded over nested attention.
    """
    if not isinstance(model, BaseModel) or not len(model) or not isinstance(model[0], Transformer):
        return None
    transformer = model[0]
    if not columns or VARLEN_KEY not in columns[0] or not transformer.runs_unpadded(columns[0]):
        return None
    if not nested_attention(columns[0][VARLEN_KEY].device):
        return None  # the grid attention would run every row at the widest column's width
    return join_columns(columns)
