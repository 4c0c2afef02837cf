"""WordWeights: scale each token embedding by a per-word weight (e.g. an IDF value)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from embedforge.models.base import Features, Module

logger = logging.getLogger(__name__)


def lookup_word_weights(
    vocab: Sequence[str], word_weights: Mapping[str, float], unknown_word_weight: float
) -> list[float]:
    """The weight of every vocabulary word: its own, else its lower-cased form's, else ``unknown_word_weight``.

    Args:
        vocab: The words, in index order.
        word_weights: Known weights; need not cover (or be limited to) ``vocab``.
        unknown_word_weight: Weight of words absent from ``word_weights``.

    Returns:
        One weight per word of ``vocab``.
    """
    weights = []
    num_unknown = 0
    for word in vocab:
        if word in word_weights:
            weights.append(word_weights[word])
        elif word.lower() in word_weights:
            weights.append(word_weights[word.lower()])
        else:
            weights.append(unknown_word_weight)
            num_unknown += 1
    logger.info("%d of %d words have no weight; they get %s.", num_unknown, len(vocab), unknown_word_weight)
    return weights


class WordWeights(Module):
    """Multiplies each token embedding by the weight of its word and records the sum of the weights.

    Reads ``input_ids`` and ``attention_mask`` ``(batch, seq_len)`` and ``token_embeddings``
    ``(batch, seq_len, dim)``; writes the weighted ``token_embeddings`` (same shape) and ``token_weights_sum``
    ``(batch,)``, the sum of the weights of the non-padding tokens (used by mean pooling of weighted tokens).
    The weights are a trainable ``(vocab_size, 1)`` embedding ``emb_layer`` initialised from ``word_weights``.

    Args:
        vocab: The tokenizer's vocabulary, in index order.
        word_weights: Weight of each word; a word missing here is looked up lower-cased.
        unknown_word_weight: Weight of vocabulary words found in neither form.
    """

    config_keys: ClassVar[tuple[str, ...]] = ("vocab", "word_weights", "unknown_word_weight")

    def __init__(self, vocab: list[str], word_weights: dict[str, float], unknown_word_weight: float = 1) -> None:
        super().__init__()
        self.vocab = vocab
        self.word_weights = word_weights
        self.unknown_word_weight = unknown_word_weight
        weights = lookup_word_weights(vocab, word_weights, unknown_word_weight)
        self.emb_layer = nn.Embedding(len(vocab), 1)
        with torch.no_grad():
            self.emb_layer.weight.copy_(torch.tensor(weights, dtype=torch.float32).unsqueeze(1))

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Weight ``token_embeddings`` ``(batch, seq_len, dim)`` and add ``token_weights_sum`` ``(batch,)``."""
        token_embeddings = features["token_embeddings"]
        token_weights = self.emb_layer(features["input_ids"]).squeeze(-1) * features["attention_mask"].float()
        features["token_weights_sum"] = token_weights.sum(dim=1)
        features["token_embeddings"] = token_embeddings * token_weights.unsqueeze(-1).expand(token_embeddings.size())
        return features
