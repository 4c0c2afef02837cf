"""Bucketed batch widths: the width rule, the token cache's padding, and embeddings unchanged by the extra padding."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from test_token_cache import random_texts

from embedforge import SentenceTransformer
from embedforge.engine.buckets import bucket_width, check_pad_multiple
from embedforge.engine.token_cache import TokenCache
from helpers import without_dropout


@pytest.mark.parametrize(
    ("longest", "multiple", "limit", "expected"),
    [
        (37, 32, None, 64),
        (32, 32, None, 32),
        (1, 32, None, 32),
        (37, 32, 50, 50),  # capped at the token limit
        (37, 32, 64, 64),
        (60, 32, 50, 60),  # already past the limit (a caller's own limit): never shorter than the longest text
        (37, None, 50, 37),
        (5, 1, None, 5),
        (129, 64, 512, 192),
    ],
)
def test_bucket_width(longest: int, multiple: int | None, limit: int | None, expected: int) -> None:
    assert bucket_width(longest, multiple, limit) == expected


@pytest.mark.parametrize("value", [0, -8, 2.5, True, "32"])
def test_check_pad_multiple_names_what_was_expected(value: object) -> None:
    with pytest.raises(ValueError, match=r"pad_to_multiple_of expects a positive number of tokens .* got"):
        check_pad_multiple(value)


def test_check_pad_multiple_accepts_none_and_positive_ints() -> None:
    assert check_pad_multiple(None) is None
    assert check_pad_multiple(16) == 16


@pytest.fixture
def model(_tiny_bert_session: Path) -> SentenceTransformer:
    """A fresh tiny BERT SentenceTransformer (max_seq_length 64)."""
    return SentenceTransformer(str(_tiny_bert_session), device="cpu")


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize(("multiple", "limit"), [(8, None), (16, 20), (32, None)])
def test_cache_pads_to_the_bucket_and_keeps_the_real_tokens(
    model: SentenceTransformer, side: str, multiple: int, limit: int | None
) -> None:
    model.tokenizer.padding_side = side
    cache = TokenCache(model, pad_to_multiple_of=multiple)
    rng = random.Random(3)
    for _ in range(6):
        texts = random_texts(rng, rng.randint(1, 9))
        kwargs = {} if limit is None else {"max_length": limit}
        expected = model.tokenize(texts, **kwargs)
        features = cache(texts, **kwargs)
        longest = expected["input_ids"].shape[1]
        width = features["input_ids"].shape[1]
        assert width == bucket_width(longest, multiple, limit or model.max_seq_length)
        extra = width - longest
        for name, value in expected.items():
            real = features[name][:, extra:] if side == "left" else features[name][:, :longest]
            assert torch.equal(real, value), name
            pad = features[name][:, :extra] if side == "left" else features[name][:, longest:]
            pad_value = {"input_ids": model.tokenizer.pad_token_id, "attention_mask": 0}.get(name, 0)
            assert bool((pad == pad_value).all()), name


def test_cache_rejects_a_bad_multiple(model: SentenceTransformer) -> None:
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        TokenCache(model, pad_to_multiple_of=0)


@pytest.mark.parametrize("unpad", [False, True])
def test_bucketed_batches_give_the_same_embeddings_and_gradients(tiny_bert_path: Path, unpad: bool) -> None:
    """Padded (``unpad=False``) and packed training forwards: the extra padding changes neither values nor gradients."""
    model = SentenceTransformer(str(without_dropout(tiny_bert_path)), device="cpu")
    model.train()
    model[0].unpad = unpad
    texts = random_texts(random.Random(5), 12)
    results = []
    for multiple in (None, 32):
        model.zero_grad()
        features = TokenCache(model, pad_to_multiple_of=multiple)(texts)
        embeddings = model(features)["sentence_embedding"]
        embeddings.square().sum().backward()
        gradients = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results.append((features["input_ids"].shape[1], embeddings.detach(), gradients))
    (plain_width, plain, plain_gradients), (width, bucketed, gradients) = results
    assert width == bucket_width(plain_width, 32, model.max_seq_length) and width > plain_width
    torch.testing.assert_close(bucketed, plain, rtol=1e-5, atol=1e-6)
    assert len(plain_gradients) > 10 and set(gradients) == set(plain_gradients)
    for name, value in plain_gradients.items():
        torch.testing.assert_close(gradients[name], value, rtol=1e-4, atol=1e-6, msg=name)
