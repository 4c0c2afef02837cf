"""Domain adaptation pipelines of the documentation: GenQ and GPL (synthetic queries for an unlabeled corpus).

- :class:`QueryGenerator`: a transformers sequence-to-sequence model (e.g. ``BeIR/query-gen-msmarco-t5-base-v1``
  or ``doc2query/msmarco-t5-base-v1``) that writes search queries for passages.
- :func:`genq_pairs`: (generated query, passage) pairs, to train a bi-encoder with MultipleNegativesRankingLoss.
- :func:`gpl_triplets`: GPL's training data: generated queries, hard negatives mined with a bi-encoder, and
  cross-encoder margins ``CE(query, positive) - CE(query, negative)`` as labels for MarginMSELoss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "QueryGenerator": "embedforge.domain_adaptation.query_generator",
    "genq_pairs": "embedforge.domain_adaptation.pipelines",
    "gpl_triplets": "embedforge.domain_adaptation.pipelines",
}

__all__ = ["QueryGenerator", "genq_pairs", "gpl_triplets"]

if TYPE_CHECKING:
    from embedforge.domain_adaptation.pipelines import genq_pairs, gpl_triplets
    from embedforge.domain_adaptation.query_generator import QueryGenerator


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'embedforge.domain_adaptation' has no attribute {name!r}")
