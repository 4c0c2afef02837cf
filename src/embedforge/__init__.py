"""embedforge: train, evaluate and use sentence-embedding models with the Sentence Transformers API.

Public names are imported lazily so that ``import embedforge`` stays fast; ``from embedforge import X``
loads only what X needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "SentenceTransformer": "embedforge.model.sentence_transformer",
    "SentenceTransformerTrainer": "embedforge.training.trainer",
    "SentenceTransformerTrainingArguments": "embedforge.training.arguments",
    "SentenceTransformerModelCardData": "embedforge.model_card",
    "InputExample": "embedforge.readers",
    "losses": "embedforge.losses",
    "evaluation": "embedforge.evaluation",
    "training_args": "embedforge.training_args",
    "datasets": "embedforge.datasets",
    "readers": "embedforge.readers",
    "SimilarityFunction": "embedforge.similarity_functions",
    "quantize_embeddings": "embedforge.quantization",
    "util": "embedforge.util",
    "models": "embedforge.models",
    "quantization": "embedforge.quantization",
}

__all__ = [
    "InputExample",
    "SentenceTransformer",
    "SentenceTransformerModelCardData",
    "SentenceTransformerTrainer",
    "SentenceTransformerTrainingArguments",
    "SimilarityFunction",
    "__version__",
    "quantize_embeddings",
]

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer
    from embedforge.model_card import SentenceTransformerModelCardData
    from embedforge.quantization import quantize_embeddings
    from embedforge.readers import InputExample
    from embedforge.similarity_functions import SimilarityFunction
    from embedforge.training.arguments import SentenceTransformerTrainingArguments
    from embedforge.training.trainer import SentenceTransformerTrainer


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'embedforge' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
