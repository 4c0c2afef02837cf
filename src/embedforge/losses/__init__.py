"""Training losses, one class per file, with sentence-transformers' names and arguments.

The math of each loss is in :mod:`embedforge.losses.functional`, as functions of embeddings.
"""

from __future__ import annotations

from embedforge.losses.adaptive_layer import AdaptiveLayerLoss
from embedforge.losses.angle import AnglELoss
from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.batch_all_triplet import BatchAllTripletLoss
from embedforge.losses.batch_hard_soft_margin_triplet import BatchHardSoftMarginTripletLoss
from embedforge.losses.batch_hard_triplet import BatchHardTripletLoss, BatchHardTripletLossDistanceFunction
from embedforge.losses.batch_semi_hard_triplet import BatchSemiHardTripletLoss
from embedforge.losses.cached_gist_embed import CachedGISTEmbedLoss
from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.losses.cached_multiple_negatives_symmetric_ranking import CachedMultipleNegativesSymmetricRankingLoss
from embedforge.losses.contrastive import ContrastiveLoss, SiameseDistanceMetric
from embedforge.losses.contrastive_tension import ContrastiveTensionLoss
from embedforge.losses.contrastive_tension_data_loader import ContrastiveTensionDataLoader
from embedforge.losses.contrastive_tension_in_batch_negatives import ContrastiveTensionLossInBatchNegatives
from embedforge.losses.cosent import CoSENTLoss
from embedforge.losses.cosine_similarity import CosineSimilarityLoss
from embedforge.losses.denoising_auto_encoder import DenoisingAutoEncoderLoss
from embedforge.losses.distill_kl_div import DistillKLDivLoss
from embedforge.losses.embed_distill import EmbedDistillLoss
from embedforge.losses.gist_embed import GISTEmbedLoss
from embedforge.losses.global_orthogonal_regularization import GlobalOrthogonalRegularizationLoss
from embedforge.losses.margin_mse import MarginMSELoss
from embedforge.losses.matryoshka import MatryoshkaLoss
from embedforge.losses.matryoshka_2d import Matryoshka2dLoss
from embedforge.losses.mega_batch_margin import MegaBatchMarginLoss
from embedforge.losses.mse import MSELoss
from embedforge.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from embedforge.losses.multiple_negatives_symmetric_ranking import MultipleNegativesSymmetricRankingLoss
from embedforge.losses.online_contrastive import OnlineContrastiveLoss
from embedforge.losses.softmax import SoftmaxLoss
from embedforge.losses.triplet import TripletDistanceMetric, TripletLoss

__all__ = [
    "AdaptiveLayerLoss",
    "AnglELoss",
    "BatchAllTripletLoss",
    "BatchHardSoftMarginTripletLoss",
    "BatchHardTripletLoss",
    "BatchHardTripletLossDistanceFunction",
    "BatchSemiHardTripletLoss",
    "CachedGISTEmbedLoss",
    "CachedMultipleNegativesRankingLoss",
    "CachedMultipleNegativesSymmetricRankingLoss",
    "CoSENTLoss",
    "ContrastiveLoss",
    "ContrastiveTensionDataLoader",
    "ContrastiveTensionLoss",
    "ContrastiveTensionLossInBatchNegatives",
    "CosineSimilarityLoss",
    "DenoisingAutoEncoderLoss",
    "DistillKLDivLoss",
    "EmbedDistillLoss",
    "GISTEmbedLoss",
    "GlobalOrthogonalRegularizationLoss",
    "InputSpec",
    "LabelKind",
    "Loss",
    "MSELoss",
    "MarginMSELoss",
    "Matryoshka2dLoss",
    "MatryoshkaLoss",
    "MegaBatchMarginLoss",
    "MultipleNegativesRankingLoss",
    "MultipleNegativesSymmetricRankingLoss",
    "OnlineContrastiveLoss",
    "SiameseDistanceMetric",
    "SoftmaxLoss",
    "TripletDistanceMetric",
    "TripletLoss",
]
