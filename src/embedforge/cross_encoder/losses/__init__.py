"""Cross-encoder losses, as in sentence-transformers 6.2; names are imported lazily.

Pointwise (BCE, CE, MSE), pairwise (MarginMSE, RankNet), in-batch negatives (MNRL, its GradCache variant) and
listwise (ListNet, ListMLE, PListMLE, LambdaLoss, ADRMSE).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "CrossEncoderLoss": "base",
    "BinaryCrossEntropyLoss": "binary_cross_entropy",
    "CrossEntropyLoss": "cross_entropy",
    "MSELoss": "mse",
    "MarginMSELoss": "margin_mse",
    "MultipleNegativesRankingLoss": "multiple_negatives_ranking",
    "CachedMultipleNegativesRankingLoss": "cached_multiple_negatives_ranking",
    "ListNetLoss": "list_net",
    "ListMLELoss": "list_mle",
    "PListMLELoss": "plist_mle",
    "PListMLELambdaWeight": "plist_mle_lambda_weight",
    "LambdaLoss": "lambda_loss",
    "BaseWeightingScheme": "weighting_schemes",
    "NoWeightingScheme": "weighting_schemes",
    "NDCGLoss1Scheme": "weighting_schemes",
    "NDCGLoss2Scheme": "weighting_schemes",
    "LambdaRankScheme": "weighting_schemes",
    "NDCGLoss2PPScheme": "weighting_schemes",
    "RankNetLoss": "rank_net",
    "ADRMSELoss": "adr_mse",
}

__all__ = [
    "ADRMSELoss",
    "BinaryCrossEntropyLoss",
    "CachedMultipleNegativesRankingLoss",
    "CrossEntropyLoss",
    "LambdaLoss",
    "LambdaRankScheme",
    "ListMLELoss",
    "ListNetLoss",
    "MSELoss",
    "MarginMSELoss",
    "MultipleNegativesRankingLoss",
    "NDCGLoss1Scheme",
    "NDCGLoss2PPScheme",
    "NDCGLoss2Scheme",
    "NoWeightingScheme",
    "PListMLELambdaWeight",
    "PListMLELoss",
    "RankNetLoss",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embedforge.cross_encoder.losses' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"embedforge.cross_encoder.losses.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
