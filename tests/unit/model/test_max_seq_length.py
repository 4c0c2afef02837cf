"""model.max_seq_length reads and sets the first module's limit, custom modules included (as in ST 6.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.models import BoW, Pooling
from embedforge.models.base import Features, InputModule, Module

VOCAB = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}


class CharIds(InputModule):
    """A custom input module written the sentence-transformers way: ``self.max_seq_length`` is an attribute."""

    def __init__(self, max_seq_length: int = 4) -> None:
        super().__init__()
        self.max_seq_length = max_seq_length
        self.embedding = torch.nn.Embedding(len(VOCAB) + 1, 3)

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> Features:
        rows = [[VOCAB[char] for char in text][: self.max_seq_length] for text in texts]
        width = max(len(row) for row in rows)
        ids = torch.tensor([row + [0] * (width - len(row)) for row in rows])
        return {"input_ids": ids, "attention_mask": (ids > 0).long()}

    def forward(self, features: Features, **kwargs: Any) -> Features:
        features["token_embeddings"] = self.embedding(features["input_ids"])
        return features


class Scaler(Module):
    """A non-input first module; ``with_limit`` gives it a ``max_seq_length`` attribute."""

    def __init__(self, with_limit: bool) -> None:
        super().__init__()
        if with_limit:
            self.max_seq_length = 7

    def forward(self, features: Features, **kwargs: Any) -> Features:
        return features


def test_custom_input_module_limit_is_read_and_set() -> None:
    model = SentenceTransformer(modules=[CharIds(), Pooling(3)], device="cpu")
    assert model.max_seq_length == 4
    model.max_seq_length = 2
    assert model[0].max_seq_length == 2
    assert model.tokenize(["abcde"])["input_ids"].shape == (1, 2)
    assert model.encode(["abcde", "ab"]).shape == (2, 3)


def test_attribute_on_a_non_input_first_module_as_st() -> None:
    from sentence_transformers import SentenceTransformer as STSentenceTransformer

    ours = SentenceTransformer(modules=[Scaler(with_limit=True)], device="cpu")
    theirs = STSentenceTransformer(modules=[Scaler(with_limit=True)], device="cpu")
    assert ours.max_seq_length == theirs.max_seq_length == 7
    ours.max_seq_length = theirs.max_seq_length = 3
    assert ours[0].max_seq_length == theirs[0].max_seq_length == 3


def test_first_module_without_a_limit() -> None:
    model = SentenceTransformer(modules=[Scaler(with_limit=False)], device="cpu")
    assert model.max_seq_length is None
    with pytest.raises(AttributeError, match="Scaler, has no max_seq_length"):
        model.max_seq_length = 3


def test_bow_still_refuses_a_limit() -> None:
    bow = BoW(["a", "b"])
    assert bow.max_seq_length is None
    with pytest.raises(AttributeError, match="BoW has no max_seq_length"):
        bow.max_seq_length = 3
