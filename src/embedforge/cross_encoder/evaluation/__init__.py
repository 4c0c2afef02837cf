"""Cross-encoder evaluators and the documentation's older ``CE*`` names, as in sentence-transformers 6.2.

Classification, correlation, reranking and NanoBEIR reranking; names are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "CrossEncoderClassificationEvaluator": "classification",
    "CrossEncoderCorrelationEvaluator": "correlation",
    "CrossEncoderRerankingEvaluator": "reranking",
    "CrossEncoderNanoBEIREvaluator": "nano_beir",
    "CEBinaryAccuracyEvaluator": "deprecated",
    "CEBinaryClassificationEvaluator": "deprecated",
    "CECorrelationEvaluator": "deprecated",
    "CEF1Evaluator": "deprecated",
    "CESoftmaxAccuracyEvaluator": "deprecated",
    "CERerankingEvaluator": "deprecated",
}

__all__ = [
    "CEBinaryAccuracyEvaluator",
    "CEBinaryClassificationEvaluator",
    "CECorrelationEvaluator",
    "CEF1Evaluator",
    "CERerankingEvaluator",
    "CESoftmaxAccuracyEvaluator",
    "CrossEncoderClassificationEvaluator",
    "CrossEncoderCorrelationEvaluator",
    "CrossEncoderNanoBEIREvaluator",
    "CrossEncoderRerankingEvaluator",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embedforge.cross_encoder.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"embedforge.cross_encoder.evaluation.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
