"""Training losses, one class per file, with sentence-transformers' names and arguments.

The math of each loss is in :mod:`embedforge.losses.functional`, as functions of embeddings.
"""

from __future__ import annotations

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.cosent import CoSENTLoss
from embedforge.losses.cosine_similarity import CosineSimilarityLoss
from embedforge.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from embedforge.losses.softmax import SoftmaxLoss

__all__ = [
    "CoSENTLoss",
    "CosineSimilarityLoss",
    "InputSpec",
    "LabelKind",
    "Loss",
    "MultipleNegativesRankingLoss",
    "SoftmaxLoss",
]
