"""The math of the losses, as pure functions of embeddings (no model, no forward pass, no process group).

Each Loss class embeds its text columns and calls one of these functions, so a Cached (GradCache) variant can
call the same function on embeddings it computed in mini-batches and get the same value and gradients.
"""

from __future__ import annotations

from embedforge.losses.functional.pairs import (
    check_label_count,
    classification_loss,
    cosent_loss,
    cosent_loss_from_scores,
    cosine_similarity_loss,
    pair_classifier_features,
    regression_operands,
)
from embedforge.losses.functional.ranking import (
    DIRECTIONS,
    HARDNESS_MODES,
    Direction,
    HardnessMode,
    PartitionMode,
    check_ranking_options,
    multiple_negatives_ranking_loss,
    ranking_logits,
    ranking_loss_from_logits,
)

__all__ = [
    "DIRECTIONS",
    "HARDNESS_MODES",
    "Direction",
    "HardnessMode",
    "PartitionMode",
    "check_label_count",
    "check_ranking_options",
    "classification_loss",
    "cosent_loss",
    "cosent_loss_from_scores",
    "cosine_similarity_loss",
    "multiple_negatives_ranking_loss",
    "pair_classifier_features",
    "ranking_logits",
    "ranking_loss_from_logits",
    "regression_operands",
]
