"""encode passes extra keyword arguments to the modules that declare them in ``forward_kwargs`` (as ST 6.2)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.model.encode_options import UnusedEncodeArgumentError
from embedforge.models import Pooling, Router, Transformer
from embedforge.models.base import Features, InputModule, Module

TEXTS = ["a man plays a guitar", "the dog runs"]


class Scale(Module):
    """Multiplies the sentence embedding by ``factor`` (an ``encode`` keyword argument)."""

    forward_kwargs: ClassVar[frozenset[str]] = frozenset({"factor"})

    def forward(self, features: Features, factor: float = 1.0, **kwargs: Any) -> Features:
        features["sentence_embedding"] = features["sentence_embedding"] * factor
        return features


def _st_scale_class() -> type:
    from sentence_transformers.base.modules import Module as STModule

    class STScale(STModule):
        forward_kwargs: ClassVar[set[str]] = {"factor"}
        config_keys: ClassVar[list[str]] = []

        def forward(self, features: dict, factor: float = 1.0, **kwargs: Any) -> dict:
            features["sentence_embedding"] = features["sentence_embedding"] * factor
            return features

        def save(self, *args: Any, **kwargs: Any) -> None:
            del args, kwargs

    return STScale


def test_declared_kwarg_reaches_the_module_as_in_st(tiny_bert_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as STSentenceTransformer

    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    ours.append(Scale())
    theirs = STSentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs.append(_st_scale_class()())
    assert ours.get_model_kwargs() == sorted(theirs.get_model_kwargs()) == ["factor"]
    plain = ours.encode(TEXTS)
    np.testing.assert_allclose(ours.encode(TEXTS, factor=3.0), 3.0 * plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.encode(TEXTS, factor=3.0), theirs.encode(TEXTS, factor=3.0), rtol=1e-4, atol=1e-5)


def test_undeclared_kwarg_is_refused_naming_what_is_accepted(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    with pytest.raises(UnusedEncodeArgumentError, match=r"\['colour'\].*No module takes extra arguments"):
        model.encode(TEXTS, colour="blue")
    model.append(Scale())
    with pytest.raises(ValueError, match=r"\['colour'\].*Scale takes \['factor'\]"):
        model.encode(TEXTS, colour="blue", factor=2.0)
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        model.encode(TEXTS, colour="blue")


def test_router_sub_modules_get_their_kwargs(tiny_bert_path: Path) -> None:
    transformer = Transformer(str(tiny_bert_path))
    pooling = Pooling(transformer.get_word_embedding_dimension())
    router = Router({"query": [transformer, pooling, Scale()], "document": [transformer, pooling]})
    model = SentenceTransformer(modules=[router], device="cpu")
    assert model.get_model_kwargs() == ["factor", "task"]
    document = model.encode_document(TEXTS, factor=2.0)
    np.testing.assert_allclose(model.encode_query(TEXTS, factor=2.0), 2.0 * document, rtol=1e-5, atol=1e-6)


class Letters(InputModule):
    """An input module whose tokenization takes ``offset`` (declared in ``forward_kwargs``)."""

    forward_kwargs: ClassVar[frozenset[str]] = frozenset({"offset"})

    def tokenize(self, texts: Sequence[str], offset: int = 0, **kwargs: Any) -> Features:
        return {"sentence_embedding": torch.tensor([[len(text) + offset, 1.0] for text in texts])}

    def forward(self, features: Features, offset: int = 0, **kwargs: Any) -> Features:
        features["sentence_embedding"] = features["sentence_embedding"] + offset
        return features


def test_input_module_kwarg_reaches_tokenize_and_forward() -> None:
    model = SentenceTransformer(modules=[Letters()], device="cpu")
    np.testing.assert_allclose(model.encode(["abc"], offset=10), [[23.0, 11.0]])


def test_texts_may_be_passed_as_inputs_as_in_st6(tiny_bert_path: Path) -> None:
    """ST 6 names encode's first argument ``inputs``; ``encode_query``/``encode_document`` take it too."""
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    expected = model.encode(TEXTS)
    np.testing.assert_allclose(model.encode(inputs=TEXTS), expected, atol=1e-6)
    np.testing.assert_allclose(model.encode_query(inputs=TEXTS), model.encode_query(TEXTS), atol=1e-6)
    np.testing.assert_allclose(model.encode_document(inputs=TEXTS), model.encode_document(TEXTS), atol=1e-6)
    with pytest.raises(TypeError, match="needs the texts"):
        model.encode_query()
