"""Modules of a SentenceTransformer pipeline, one class per file (``embedforge.models.Pooling``…).

Classes are imported on first access so that importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, tuple[str, str]] = {
    "Module": ("base", "Module"),
    "InputModule": ("base", "InputModule"),
    "Transformer": ("transformer", "Transformer"),
    "Pooling": ("pooling", "Pooling"),
    "Dense": ("dense", "Dense"),
    "Normalize": ("normalize", "Normalize"),
    "StaticEmbedding": ("static_embedding", "StaticEmbedding"),
    "Router": ("router", "Router"),
    "Asym": ("router", "Router"),
    "WordEmbeddings": ("word_embeddings", "WordEmbeddings"),
    "WordWeights": ("word_weights", "WordWeights"),
    "WeightedLayerPooling": ("weighted_layer_pooling", "WeightedLayerPooling"),
    "LayerNorm": ("layer_norm", "LayerNorm"),
    "Dropout": ("dropout", "Dropout"),
    "CNN": ("cnn", "CNN"),
    "LSTM": ("lstm", "LSTM"),
    "BoW": ("bow", "BoW"),
    "CLIPModel": ("clip_model", "CLIPModel"),
    "truncate_layers": ("layer_truncation", "truncate_layers"),
}

__all__ = [
    "CNN",
    "LSTM",
    "Asym",
    "BoW",
    "CLIPModel",
    "Dense",
    "Dropout",
    "InputModule",
    "LayerNorm",
    "Module",
    "Normalize",
    "Pooling",
    "Router",
    "StaticEmbedding",
    "Transformer",
    "WeightedLayerPooling",
    "WordEmbeddings",
    "WordWeights",
    "truncate_layers",
]

if TYPE_CHECKING:
    from embedforge.models.base import InputModule, Module
    from embedforge.models.bow import BoW
    from embedforge.models.clip_model import CLIPModel
    from embedforge.models.cnn import CNN
    from embedforge.models.dense import Dense
    from embedforge.models.dropout import Dropout
    from embedforge.models.layer_norm import LayerNorm
    from embedforge.models.layer_truncation import truncate_layers
    from embedforge.models.lstm import LSTM
    from embedforge.models.normalize import Normalize
    from embedforge.models.pooling import Pooling
    from embedforge.models.router import Router
    from embedforge.models.router import Router as Asym
    from embedforge.models.static_embedding import StaticEmbedding
    from embedforge.models.transformer import Transformer
    from embedforge.models.weighted_layer_pooling import WeightedLayerPooling
    from embedforge.models.word_embeddings import WordEmbeddings
    from embedforge.models.word_weights import WordWeights


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'embedforge.models' has no attribute {name!r}")
    file_name, class_name = _LAZY[name]
    value = getattr(importlib.import_module(f"embedforge.models.{file_name}"), class_name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
