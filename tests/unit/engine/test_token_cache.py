"""TokenCache: the same features as the model's tokenize, with each distinct text tokenized once."""

from __future__ import annotations

import multiprocessing
import pickle
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader
from transformers import AutoTokenizer

from embedforge import SentenceTransformer
from embedforge.data.collator import SentenceTransformerDataCollator
from embedforge.engine.token_cache import TokenCache
from embedforge.models.static_embedding import StaticEmbedding
from embedforge.models.transformer import Transformer
from model_builders import WORDS

PROMPTS = (None, "", "query: ", "represent the document: ")
LIMITS = (None, 4, 9, 16)


@pytest.fixture
def model(_tiny_bert_session: Path) -> SentenceTransformer:
    """A fresh tiny BERT SentenceTransformer (max_seq_length 64) per test."""
    return SentenceTransformer(str(_tiny_bert_session), device="cpu")


@pytest.fixture
def tokenizer_calls(model: SentenceTransformer, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The first argument of every call of ``model``'s tokenizer (calls of other tokenizers are not recorded)."""
    calls: list[list[Any]] = []
    tokenizer_class = type(model.tokenizer)
    original = tokenizer_class.__call__

    def recording_call(self: Any, text: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self is model.tokenizer:
            calls.append(list(text))
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(tokenizer_class, "__call__", recording_call)
    return calls


def random_texts(rng: random.Random, count: int) -> list[str]:
    """Texts of 0-40 words: vocabulary words, unknown words, punctuation, mixed case."""
    pool = [*WORDS, "Guitar", "zebra", "xylophone", "!", "?", "don't", "co-op", "42"]
    return [" ".join(rng.choice(pool) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def assert_same_features(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    """Same keys in the same order; tensors equal in dtype, shape and values; other values equal."""
    assert list(actual) == list(expected)
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert isinstance(actual[key], torch.Tensor), key
            assert actual[key].dtype == value.dtype, key
            assert actual[key].shape == value.shape, key
            assert torch.equal(actual[key], value), key
        else:
            assert type(actual[key]) is type(value), key
            assert actual[key] == value, key


def random_calls(seed: int, batches: int) -> Iterator[tuple[list[str], dict[str, Any]]]:
    """Batches drawn from a small pool (so texts repeat within and across calls), with random options."""
    rng = random.Random(seed)
    pool = random_texts(rng, 30)
    for _ in range(batches):
        texts = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        kwargs: dict[str, Any] = {"prompt": rng.choice(PROMPTS)}
        limit = rng.choice(LIMITS)
        if limit is not None:
            kwargs["max_length"] = limit
        yield texts, kwargs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_calls_equal_the_model_tokenize(model: SentenceTransformer, seed: int) -> None:
    cache = TokenCache(model)
    for texts, kwargs in random_calls(seed, batches=25):
        assert_same_features(model.tokenize(texts, **kwargs), cache(texts, **kwargs))
    assert cache.hits > 0


def test_tokenizer_sees_each_text_once(model: SentenceTransformer, tokenizer_calls: list[list[Any]]) -> None:
    cache = TokenCache(model)
    cache(["a dog runs", "the cat", "a dog runs"])
    assert tokenizer_calls == [["a dog runs", "the cat"]]
    cache(["the cat", "a man plays", "a dog runs"])
    assert tokenizer_calls[1:] == [["a man plays"]]
    cache(["the cat", "a man plays"])
    assert len(tokenizer_calls) == 2
    assert (cache.hits, cache.misses, len(cache)) == (5, 3, 3)


def test_prompt_and_max_length_are_part_of_the_key(
    model: SentenceTransformer, tokenizer_calls: list[list[Any]]
) -> None:
    cache = TokenCache(model)
    cache(["a dog runs"])
    cache(["a dog runs"], prompt="query: ")  # the texts, then the prompt alone (its length)
    assert tokenizer_calls[1:] == [["query: a dog runs"], ["query: "]]
    cache(["a dog runs"], prompt="query: ", max_length=4)
    cache(["a dog runs"], prompt="query: ", max_length=4, task="query")  # a Transformer ignores the task
    cache(["a dog runs"], prompt="")  # an empty prompt is no prompt
    assert tokenizer_calls[3:] == [["query: a dog runs"]]


def test_pairs_equal_the_model_tokenize(model: SentenceTransformer, tokenizer_calls: list[list[Any]]) -> None:
    rng = random.Random(3)
    pool = random_texts(rng, 10)
    cache = TokenCache(model)
    for _ in range(8):
        pairs = [(rng.choice(pool), rng.choice(pool)) for _ in range(rng.randint(1, 6))]
        kwargs = {"max_length": rng.choice((8, 20))}
        assert_same_features(model.tokenize(pairs, **kwargs), cache(pairs, **kwargs))
    tokenizer_calls.clear()
    pairs_as_lists = [["a dog runs", "the cat"], ["a man", "plays"]]
    expected = model.tokenize(pairs_as_lists, prompt="query: ")
    tokenizer_calls.clear()
    assert_same_features(expected, cache(pairs_as_lists, prompt="query: "))
    assert_same_features(expected, cache([tuple(pair) for pair in pairs_as_lists], prompt="query: "))
    assert tokenizer_calls == [["query: a dog runs", "query: a man"]]


def test_left_padding_and_left_truncation(model: SentenceTransformer) -> None:
    cache = TokenCache(model)
    model.tokenizer.padding_side = "left"
    model.tokenizer.truncation_side = "left"
    for texts, kwargs in random_calls(4, batches=10):
        assert_same_features(model.tokenize(texts, **kwargs), cache(texts, **kwargs))


def test_model_changes_are_followed(model: SentenceTransformer, tokenizer_calls: list[list[Any]]) -> None:
    texts = random_texts(random.Random(5), 6)
    cache = TokenCache(model)
    cache(texts)
    model.max_seq_length = 7  # a new limit: new entries
    assert_same_features(model.tokenize(texts), cache(texts))
    model.tokenizer = AutoTokenizer.from_pretrained(model.tokenizer.name_or_path)  # a new tokenizer: cache emptied
    tokenizer_calls.clear()
    assert_same_features(model.tokenize(texts), cache(texts))
    assert tokenizer_calls[1] == list(dict.fromkeys(texts))  # [0] is the model's own call
    assert len(cache) == len(set(texts))


def test_bounded_cache_drops_least_recently_used(model: SentenceTransformer, tokenizer_calls: list[list[Any]]) -> None:
    cache = TokenCache(model, max_entries=2)
    cache(["a", "b"])
    cache(["a"])  # "a" is now the most recently used
    cache(["c"])  # drops "b"
    assert len(cache) == 2
    tokenizer_calls.clear()
    assert_same_features(model.tokenize(["b", "a", "c", "b"]), cache(["b", "a", "c", "b"]))
    assert tokenizer_calls[1:] == [["b"]]  # [0]: the model's own call; the batch exceeds the bound, served whole
    assert len(cache) == 2
    with pytest.raises(ValueError, match="max_entries"):
        TokenCache(model, max_entries=0)


def test_pickled_cache_keeps_its_entries(model: SentenceTransformer) -> None:
    texts = random_texts(random.Random(6), 8)
    cache = TokenCache(model)
    cache(texts, prompt="query: ")
    copy = pickle.loads(pickle.dumps(cache))
    assert len(copy) == len(cache)
    copy_calls = copy.misses
    assert_same_features(model.tokenize(texts, prompt="query: "), copy(texts, prompt="query: "))
    assert copy.misses == copy_calls  # served from the copied entries, not tokenized again


def test_collator_with_the_cache_equals_the_plain_collator(model: SentenceTransformer) -> None:
    rng = random.Random(7)
    pool = random_texts(rng, 12)
    rows = [{"anchor": rng.choice(pool), "positive": rng.choice(pool), "score": rng.random()} for _ in range(9)]
    options: dict[str, Any] = {"prompts": {"anchor": "query: "}, "max_length": 12}
    plain = SentenceTransformerDataCollator(tokenize_fn=model.tokenize, **options)
    cached = SentenceTransformerDataCollator(tokenize_fn=TokenCache(model), **options)
    for _ in range(2):
        expected, actual = plain(rows), cached(rows)
        assert torch.equal(expected["label"], actual["label"])
        for want, got in zip(expected["sentence_features"], actual["sentence_features"], strict=True):
            assert_same_features(want, got)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork-started workers")
def test_collator_in_persistent_dataloader_workers(model: SentenceTransformer) -> None:
    rng = random.Random(8)
    pool = random_texts(rng, 10)
    rows = [{"anchor": rng.choice(pool), "positive": rng.choice(pool)} for _ in range(16)]
    plain = SentenceTransformerDataCollator(tokenize_fn=model.tokenize, prompts="query: ")
    cached = SentenceTransformerDataCollator(tokenize_fn=TokenCache(model), prompts="query: ")
    loader = DataLoader(
        rows,
        batch_size=4,
        collate_fn=cached,
        num_workers=2,
        persistent_workers=True,
        multiprocessing_context="fork",
    )
    for _ in range(2):  # two epochs over the same persistent workers (and their caches)
        for index, batch in enumerate(loader):
            expected = plain(rows[index * 4 : (index + 1) * 4])
            for want, got in zip(expected["sentence_features"], batch["sentence_features"], strict=True):
                assert_same_features(want, got)


class _ShortTransformer(Transformer):
    """A Transformer that tokenizes differently (no token type ids): the cache must not reproduce it."""

    def _call_tokenizer(self, texts: list[str], pairs: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        features = super()._call_tokenizer(texts, pairs, **kwargs)
        features.pop("token_type_ids", None)
        return features


def test_what_the_cache_cannot_reproduce_goes_to_the_model(
    model: SentenceTransformer, _tiny_bert_session: Path
) -> None:
    cache = TokenCache(model)
    triples = [("a dog", "runs", "ignored"), ("the cat", "sits", "ignored")]  # the model reads the first two
    assert_same_features(model.tokenize(triples), cache(triples))
    assert len(cache) == 0
    subclass = SentenceTransformer(modules=[_ShortTransformer(str(_tiny_bert_session))], device="cpu")
    assert_same_features(subclass.tokenize(["a dog runs"]), TokenCache(subclass)(["a dog runs"]))
    static = SentenceTransformer(modules=[StaticEmbedding(model.tokenizer, embedding_dim=4)], device="cpu")
    static_cache = TokenCache(static)
    assert_same_features(static.tokenize(["a dog runs", "b"]), static_cache(["a dog runs", "b"]))
    assert len(static_cache) == 0
    # Without a pad token the model's tokenize refuses to pad: so does the cache. (Set and restored by hand:
    # transformers serves pad_token through __getattr__/__setattr__, which pytest >= 9.2's monkeypatch cannot undo.)
    pad_token = model.tokenizer.pad_token
    model.tokenizer.pad_token = None
    try:
        with pytest.raises(ValueError, match="padding token"):
            model.tokenize(["a dog", "the cat runs"])
        with pytest.raises(ValueError, match="padding token"):
            cache(["a dog", "the cat runs"])
    finally:
        model.tokenizer.pad_token = pad_token
