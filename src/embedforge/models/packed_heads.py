"""Sequence-classification heads (cross-encoders) over the unpadded encoder: the logits of the padded forward.

A ``*ForSequenceClassification`` model is an encoder plus a head that reads the encoder's output at each text's
first token (or its mean over real tokens): the encoder runs packed (:func:`~embedforge.models.packing.
packed_token_embeddings`, padded positions zero) and the head then runs as the model's own forward runs it.
:data:`SEQUENCE_CLASSIFIERS` lists the classes and where their encoder sits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from embedforge.models.packing import packed_token_embeddings

if TYPE_CHECKING:
    from torch import Tensor
    from transformers import PreTrainedModel

    from embedforge.models.base import Features

__all__ = ["SEQUENCE_CLASSIFIERS", "packed_sequence_logits"]

SEQUENCE_CLASSIFIERS: dict[str, str] = {
    "BertForSequenceClassification": "bert",
    "RobertaForSequenceClassification": "roberta",
    "XLMRobertaForSequenceClassification": "roberta",
    "CamembertForSequenceClassification": "roberta",
    "ElectraForSequenceClassification": "electra",
    "MPNetForSequenceClassification": "mpnet",
    "DistilBertForSequenceClassification": "distilbert",
    "ModernBertForSequenceClassification": "model",
    "DebertaV2ForSequenceClassification": "deberta",
}
"""transformers' sequence classifiers whose logits :func:`packed_sequence_logits` reproduces, and the attribute that
holds each one's encoder."""


def packed_sequence_logits(model: PreTrainedModel, features: Features) -> Tensor:
    """The logits ``(batch, num_labels)`` of a sequence classifier run on the real tokens only.

    Args:
        model: One of :data:`SEQUENCE_CLASSIFIERS`, for which :func:`~embedforge.models.packing.can_pack` holds.
        features: ``input_ids``, ``attention_mask`` (and ``token_type_ids``), each ``(batch, seq_len)``.

    Returns:
        ``(batch, num_labels)``, as the model's padded forward computes them (up to float rounding).
    """
    name = type(model).__name__
    encoder = getattr(model, SEQUENCE_CLASSIFIERS[name])
    hidden = packed_token_embeddings(encoder, features)  # (batch, seq_len, hidden), zeros at padded positions
    if name == "BertForSequenceClassification":
        pooled = encoder.pooler(hidden) if encoder.pooler is not None else hidden[:, 0]
        return model.classifier(model.dropout(pooled))
    if name == "DistilBertForSequenceClassification":
        pooled = torch.relu(model.pre_classifier(hidden[:, 0]))
        return model.classifier(model.dropout(pooled))
    if name == "DebertaV2ForSequenceClassification":  # ContextPooler: the first token, dropout, dense, activation
        return model.classifier(model.dropout(model.pooler(hidden)))
    if name == "ModernBertForSequenceClassification":
        return model.classifier(model.drop(model.head(_modernbert_pooling(model, hidden, features))))
    return model.classifier(hidden)  # heads that read the first token themselves (RoBERTa, ELECTRA, MPNet)


def _modernbert_pooling(model: PreTrainedModel, hidden: Tensor, features: Features) -> Tensor:
    """ModernBERT's ``classifier_pooling``: the first token, or the mean over real tokens; ``(batch, hidden)``."""
    if model.config.classifier_pooling == "cls":
        return hidden[:, 0]
    mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)
