"""SentenceTransformer.dtype follows sentence-transformers 6.2: the first parameter's dtype, None without any."""

from __future__ import annotations

from pathlib import Path

import torch

from embedforge import SentenceTransformer
from embedforge.models import Normalize
from embedforge.models.base import Features, InputModule


class NoWeights(InputModule):
    """An input module without parameters."""

    def tokenize(self, texts: list[str], **kwargs: object) -> Features:
        return {"sentence_embedding": torch.ones(len(texts), 2)}

    def forward(self, features: Features, **kwargs: object) -> Features:
        return features


def test_dtype_matches_st(tiny_bert_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as STSentenceTransformer

    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs = STSentenceTransformer(str(tiny_bert_path), device="cpu")
    assert ours.dtype == theirs.dtype == torch.float32
    assert ours.to(torch.bfloat16).dtype == theirs.to(torch.bfloat16).dtype == torch.bfloat16


def test_dtype_without_parameters_is_none_as_st() -> None:
    from sentence_transformers import SentenceTransformer as STSentenceTransformer

    ours = SentenceTransformer(modules=[NoWeights(), Normalize()], device="cpu")
    theirs = STSentenceTransformer(modules=[Normalize()], device="cpu")
    assert ours.dtype is None
    assert theirs.dtype is None
