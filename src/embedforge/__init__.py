"""embedforge: train, evaluate and use sentence-embedding models with the Sentence Transformers API.

Public names are imported lazily so that ``import embedforge`` stays fast; ``from embedforge import X``
loads only what X needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from embedforge.compat.finder import install_alias_finder
from embedforge.compat.unavailable_paths import UNAVAILABLE_NAMES, UNAVAILABLE_PATHS

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "SentenceTransformer": "embedforge.model.sentence_transformer",
    "CrossEncoder": "embedforge.cross_encoder.model",
    "CrossEncoderTrainer": "embedforge.cross_encoder.trainer",
    "CrossEncoderTrainingArguments": "embedforge.cross_encoder.training_args",
    "CrossEncoderModelCardData": "embedforge.cross_encoder.model_card",
    "cross_encoder": "embedforge.cross_encoder",
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
    "mine_hard_negatives": "embedforge.util",
    "models": "embedforge.models",
    "quantization": "embedforge.quantization",
    "LoggingHandler": "embedforge.util.logging",
    "SentencesDataset": "embedforge.datasets.sentences",
    "ParallelSentencesDataset": "embedforge.datasets.parallel_sentences",
    "DefaultBatchSampler": "embedforge.data.samplers.default",
    "MultiDatasetDefaultBatchSampler": "embedforge.data.samplers.multi_dataset",
    "resolve_ids": "embedforge.util.dataset",
    "sentence_transformer": "embedforge.sentence_transformer",
    "base": "embedforge.base",
    "backend": "embedforge.backend",
    "export_optimized_onnx_model": "embedforge.backend.optimize",
    "export_dynamic_quantized_onnx_model": "embedforge.backend.quantize",
    "export_static_quantized_openvino_model": "embedforge.backend.quantize",
}

__all__ = [
    "CrossEncoder",
    "CrossEncoderModelCardData",
    "CrossEncoderTrainer",
    "CrossEncoderTrainingArguments",
    "DefaultBatchSampler",
    "InputExample",
    "LoggingHandler",
    "MultiDatasetDefaultBatchSampler",
    "ParallelSentencesDataset",
    "SentenceTransformer",
    "SentenceTransformerModelCardData",
    "SentenceTransformerTrainer",
    "SentenceTransformerTrainingArguments",
    "SentencesDataset",
    "SimilarityFunction",
    "__version__",
    "export_dynamic_quantized_onnx_model",
    "export_optimized_onnx_model",
    "export_static_quantized_openvino_model",
    "mine_hard_negatives",
    "quantize_embeddings",
    "resolve_ids",
]

if TYPE_CHECKING:
    from embedforge.backend.optimize import export_optimized_onnx_model
    from embedforge.backend.quantize import export_dynamic_quantized_onnx_model, export_static_quantized_openvino_model
    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.cross_encoder.model_card import CrossEncoderModelCardData
    from embedforge.cross_encoder.trainer import CrossEncoderTrainer
    from embedforge.cross_encoder.training_args import CrossEncoderTrainingArguments
    from embedforge.data.samplers.default import DefaultBatchSampler
    from embedforge.data.samplers.multi_dataset import MultiDatasetDefaultBatchSampler
    from embedforge.datasets.parallel_sentences import ParallelSentencesDataset
    from embedforge.datasets.sentences import SentencesDataset
    from embedforge.model.sentence_transformer import SentenceTransformer
    from embedforge.model_card import SentenceTransformerModelCardData
    from embedforge.quantization import quantize_embeddings
    from embedforge.readers import InputExample
    from embedforge.similarity_functions import SimilarityFunction
    from embedforge.training.arguments import SentenceTransformerTrainingArguments
    from embedforge.training.trainer import SentenceTransformerTrainer
    from embedforge.util import mine_hard_negatives
    from embedforge.util.dataset import resolve_ids
    from embedforge.util.logging import LoggingHandler


install_alias_finder()


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        missing = UNAVAILABLE_NAMES.get(name)
        why = "" if missing is None else f": {UNAVAILABLE_PATHS[missing]}"
        raise AttributeError(f"module 'embedforge' has no attribute {name!r}{why}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
