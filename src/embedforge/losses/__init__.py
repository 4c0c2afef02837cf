"""Training losses, one class per file, with sentence-transformers' names and arguments.

The math of each loss is in :mod:`embedforge.losses.functional`, as functions of embeddings.
"""

from __future__ import annotations

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.batch_all_triplet import BatchAllTripletLoss
from embedforge.losses.batch_hard_soft_margin_triplet import BatchHardSoftMarginTripletLoss
from embedforge.losses.batch_hard_triplet import BatchHardTripletLoss, BatchHardTripletLossDistanceFunction
from embedforge.losses.batch_semi_hard_triplet import BatchSemiHardTripletLoss
from embedforge.losses.cosent import CoSENTLoss
from embedforge.losses.cosine_similarity import CosineSimilarityLoss
from embedforge.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from embedforge.losses.softmax import SoftmaxLoss
from embedforge.losses.triplet import TripletDistanceMetric, TripletLoss

__all__ = [
    "BatchAllTripletLoss",
    "BatchHardSoftMarginTripletLoss",
    "BatchHardTripletLoss",
    "BatchHardTripletLossDistanceFunction",
    "BatchSemiHardTripletLoss",
    "CoSENTLoss",
    "CosineSimilarityLoss",
    "InputSpec",
    "LabelKind",
    "Loss",
    "MultipleNegativesRankingLoss",
    "SoftmaxLoss",
    "TripletDistanceMetric",
    "TripletLoss",
]
