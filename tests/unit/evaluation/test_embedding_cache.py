"""The embedding cache shared by the evaluators of one SequentialEvaluator call."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from embedforge import SentenceTransformer
from embedforge.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator, TripletEvaluator
from embedforge.evaluation.embedding_cache import EmbeddingCache, active_cache, shared_embeddings
from embedforge.evaluation.inputs import encode_unique
from embedforge.models.router import Router
from embedforge.models.static_embedding import StaticEmbedding


class CountingEncoder:
    """A fake model whose ``encode`` maps each text to ``[len(text), scale]`` and records what it was given."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str], scale: float = 1.0, **kwargs: Any) -> np.ndarray:
        self.calls.append(list(texts))
        return np.asarray([[len(text), scale] for text in texts], dtype=np.float32).reshape(len(texts), 2)


def test_cache_embeds_each_text_once_per_key() -> None:
    model = CountingEncoder()
    cache = EmbeddingCache()
    first = cache.embed(model.encode, ["a", "bb"], batch_size=2)
    second = cache.embed(model.encode, ["bb", "ccc"], batch_size=64, show_progress_bar=True)  # same key
    scaled = cache.embed(model.encode, ["a"], scale=2.0)  # an option that changes the vectors: another key
    assert model.calls == [["a", "bb"], ["ccc"], ["a"]]
    np.testing.assert_array_equal(first, [[1, 1], [2, 1]])
    np.testing.assert_array_equal(second, [[2, 1], [3, 1]])
    np.testing.assert_array_equal(scaled, [[1, 2]])
    assert (cache.computed, cache.reused) == (4, 1)


def test_encode_unique_uses_the_open_cache_only() -> None:
    model = CountingEncoder()
    assert active_cache() is None
    encode_unique(model.encode, [["a", "b"]])
    encode_unique(model.encode, [["a", "b"]])
    assert len(model.calls) == 2  # no round open: nothing is kept between evaluators
    with shared_embeddings() as cache, shared_embeddings() as inner:
        assert inner is cache  # a nested round joins the open one
        encode_unique(model.encode, [["a", "b"], ["b"]])
        (again,) = encode_unique(model.encode, [["b", "a", "c"]])
    assert model.calls[2:] == [["a", "b"], ["c"]]
    np.testing.assert_array_equal(again[:, 0], [1, 1, 1])
    assert active_cache() is None


@pytest.fixture
def tiny_model(tiny_bert_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_bert_path), device="cpu")


def _recording(model: SentenceTransformer) -> list[list[str]]:
    """Record the texts of every ``model.encode`` call (bound to the model, as the real method is)."""
    calls: list[list[str]] = []
    inner = model.encode

    def encode(self: SentenceTransformer, sentences: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(sentences))
        return inner(sentences, *args, **kwargs)

    model.encode = types.MethodType(encode, model)  # type: ignore[method-assign]
    return calls


def test_sequential_evaluator_embeds_shared_texts_once(tiny_model: SentenceTransformer, sentences: list[str]) -> None:
    a, b, c, d = sentences[:4]
    evaluators = [
        EmbeddingSimilarityEvaluator([a, b], [c, d], [0.1, 0.9], name="first"),
        EmbeddingSimilarityEvaluator([a, c], [b, d], [0.5, 0.2], name="second"),
        TripletEvaluator([a, b], [c, d], [d, c], name="triplets"),
    ]
    separate = {key: value for evaluator in evaluators for key, value in evaluator(tiny_model).items()}
    calls = _recording(tiny_model)
    try:
        together = SequentialEvaluator(evaluators)(tiny_model)
    finally:
        del tiny_model.encode
    for key, value in separate.items():
        assert together[key] == pytest.approx(value, abs=1e-6)
    # The second STS evaluator needs the same four texts as the first: it encodes nothing. The triplet evaluator
    # embeds with encode_query / encode_document, which on a model without prompts or routes reach the model
    # exactly as encode does: its texts are served from the first evaluator's entries too.
    assert calls == [[a, b, c, d]]


def test_role_methods_share_entries_when_the_same_prompt_reaches_the_model(
    tiny_model: SentenceTransformer, sentences: list[str]
) -> None:
    a, b = sentences[:2]
    cache = EmbeddingCache()
    plain = cache.embed(tiny_model.encode, [a, b])
    query = cache.embed(tiny_model.encode_query, [a, b])
    document = cache.embed(tiny_model.encode_document, [b])
    assert (cache.computed, cache.reused) == (2, 3)  # no prompts, no Router: one entry per text
    np.testing.assert_array_equal(query, plain)
    np.testing.assert_array_equal(document, plain[1:])

    tiny_model.prompts = {"query": "query: "}
    cache = EmbeddingCache()
    query = cache.embed(tiny_model.encode_query, [a])
    cache.embed(tiny_model.encode, [a])  # no prompt: another entry
    by_text = cache.embed(tiny_model.encode, [a], prompt="query: ")
    by_name = cache.embed(tiny_model.encode, [a], prompt_name="query")
    cache.embed(tiny_model.encode_document, [a])  # no document prompt: the plain entry
    assert (cache.computed, cache.reused) == (2, 3)
    np.testing.assert_array_equal(by_text, query)
    np.testing.assert_array_equal(by_name, query)
    np.testing.assert_allclose(query, tiny_model.encode_query([a]), atol=1e-6)
    assert not np.allclose(query, tiny_model.encode([a]), atol=1e-4)  # the prompt does change the vector


def test_routed_models_keep_queries_and_documents_apart() -> None:
    vocab = {token: index for index, token in enumerate(["[PAD]", "[UNK]", "a", "man", "plays", "guitar"])}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    torch.manual_seed(0)
    router = Router.for_query_document(
        [StaticEmbedding(tokenizer, embedding_dim=4)], [StaticEmbedding(tokenizer, embedding_dim=4)]
    )
    model = SentenceTransformer(modules=[router], device="cpu")
    cache = EmbeddingCache()
    query = cache.embed(model.encode_query, ["a man plays guitar"])
    document = cache.embed(model.encode_document, ["a man plays guitar"])
    again = cache.embed(model.encode, ["a man plays guitar"], task="query")
    assert (cache.computed, cache.reused) == (2, 1)
    assert not np.allclose(query, document)
    np.testing.assert_array_equal(again, query)
