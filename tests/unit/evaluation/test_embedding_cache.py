"""The embedding cache shared by the evaluators of one SequentialEvaluator call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embedforge import SentenceTransformer
from embedforge.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator, TripletEvaluator
from embedforge.evaluation.embedding_cache import EmbeddingCache, active_cache, shared_embeddings
from embedforge.evaluation.inputs import encode_unique


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
    calls: list[list[str]] = []
    inner = model.encode

    def encode(sentences: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(sentences))
        return inner(sentences, *args, **kwargs)

    model.encode = encode  # type: ignore[method-assign]
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
    # embeds with encode_query / encode_document (other prompts and routes), so its texts are its own entries.
    assert calls == [[a, b, c, d], [a, b], [c, d]]
