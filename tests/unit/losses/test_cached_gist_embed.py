"""CachedGISTEmbedLoss: equal to sentence-transformers 6.2 and to GISTEmbedLoss, trains, validates inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cached_helpers import (
    COLUMNS,
    assert_same_grads,
    check_st_parity,
    guide_path,
    load_model,
    loss_and_grads,
    nli_triplets,
    single_thread,
    tokenize,
    train_two_steps,
)
from datasets import Dataset

from embedforge import SentenceTransformer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses.cached_gist_embed import CachedGISTEmbedLoss
from embedforge.losses.gist_embed import GISTEmbedLoss
from embedforge.losses.matryoshka import MatryoshkaLoss

st = pytest.importorskip("sentence_transformers")
st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["guide_path", "single_thread"]

MORE_NEGATIVES = [*COLUMNS, list(reversed(COLUMNS[2]))]


@pytest.fixture(scope="module")
def guides(guide_path: Path) -> tuple[SentenceTransformer, object]:
    return load_model(guide_path), st.SentenceTransformer(str(guide_path), device="cpu").eval()


@pytest.mark.parametrize(
    ("columns", "kwargs"),
    [
        pytest.param(COLUMNS[:2], {}, id="pairs"),
        pytest.param(COLUMNS, {}, id="triplets"),
        pytest.param(MORE_NEGATIVES, {}, id="two-negatives"),
        pytest.param(COLUMNS, {"mini_batch_size": 3, "margin_strategy": "relative", "margin": 0.1}, id="relative"),
        pytest.param(COLUMNS, {"mini_batch_num_tokens": 24, "contrast_anchors": False}, id="token-budget"),
        pytest.param(COLUMNS[:2], {"contrast_positives": False, "temperature": 0.05}, id="no-positive-contrast"),
    ],
)
def test_matches_sentence_transformers(model_pair: tuple, guides: tuple, columns: list, kwargs: dict) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, guides
    kwargs = {"mini_batch_size": 2, **kwargs}
    check_st_parity(
        (CachedGISTEmbedLoss(ours, our_guide, **kwargs), ours),
        (st_losses.CachedGISTEmbedLoss(theirs, their_guide, **kwargs), theirs),
        columns,
    )


def test_matches_sentence_transformers_when_retokenizing(model_pair: tuple, guide_path: Path) -> None:
    ours, theirs = model_pair
    our_guide, their_guide = load_model(guide_path), st.SentenceTransformer(str(guide_path), device="cpu").eval()
    our_guide.max_seq_length = their_guide.max_seq_length = 12
    loss = CachedGISTEmbedLoss(ours, our_guide, mini_batch_size=3)
    assert loss.must_retokenize
    check_st_parity(
        (loss, ours), (st_losses.CachedGISTEmbedLoss(theirs, their_guide, mini_batch_size=3), theirs), COLUMNS
    )


@pytest.fixture(scope="module")
def models64(_tiny_bert_session: Path, guide_path: Path) -> dict:
    """float64 models with and without prompt pooling, and a float64 guide (so that guide masks agree exactly)."""
    models = {flag: load_model(_tiny_bert_session, torch.float64, include_prompt=flag) for flag in (True, False)}
    return {"models": models, "guide": load_model(guide_path, torch.float64)}


@pytest.mark.parametrize("prompt", [None, "query: what "], ids=["no-prompt", "prompt-excluded"])
@pytest.mark.parametrize(
    ("kwargs", "matryoshka"),
    [
        ({"mini_batch_size": 3}, False),
        ({"mini_batch_num_tokens": 20, "margin": 0.05}, False),
        ({"mini_batch_size": 2}, True),
    ],
    ids=["uneven", "token-budget", "matryoshka"],
)
def test_equals_gist_embed_loss(models64: dict, kwargs: dict, matryoshka: bool, prompt: str | None) -> None:
    model, guide = models64["models"][prompt is None], models64["guide"]
    options = {key: value for key, value in kwargs.items() if not key.startswith("mini_batch")}
    cached, plain = CachedGISTEmbedLoss(model, guide, **kwargs), GISTEmbedLoss(model, guide, **options)
    if matryoshka:
        cached, plain = (MatryoshkaLoss(model, loss, [32, 16], matryoshka_weights=[1, 2]) for loss in (cached, plain))
    features = tokenize(model, COLUMNS, prompt=prompt)
    value, grads = loss_and_grads(cached, model, features)
    expected_value, expected = loss_and_grads(plain, model, features)
    assert value == pytest.approx(expected_value, abs=1e-10)
    assert_same_grads(grads, expected, atol=1e-9)
    assert all(p.grad is None for p in guide.parameters())  # the guide is never trained


def test_trains_two_steps(tiny_bert_path: Path, guide_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    loss = CachedGISTEmbedLoss(model, load_model(guide_path), mini_batch_size=3)
    train_two_steps(model, loss, nli_triplets(shared_data), tmp_path)


def test_wrong_columns_are_rejected_before_training(tiny_bert_path: Path, guides: tuple, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    labelled = Dataset.from_dict({"anchor": ["a b", "c d"], "positive": ["e", "f"], "label": [1, 0]})
    with pytest.raises(DatasetValidationError, match="takes no labels"):
        train_two_steps(model, CachedGISTEmbedLoss(model, guides[0]), labelled, tmp_path)


def test_config_matches_sentence_transformers(model_pair: tuple, guides: tuple) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, guides
    kwargs = {"temperature": 0.02, "mini_batch_size": 4, "mini_batch_num_tokens": 64, "margin": 0.1}
    config = CachedGISTEmbedLoss(ours, our_guide, **kwargs).get_config_dict()
    their_config = st_losses.CachedGISTEmbedLoss(theirs, their_guide, **kwargs).get_config_dict()
    assert config.pop("guide") is our_guide and their_config.pop("guide") is their_guide
    assert config == their_config


def test_must_retokenize_can_be_set_as_in_st(model_pair: tuple, guides: tuple) -> None:
    (ours, theirs), (our_guide, their_guide) = model_pair, guides
    loss = CachedGISTEmbedLoss(ours, our_guide, mini_batch_size=3)
    their_loss = st_losses.CachedGISTEmbedLoss(theirs, their_guide, mini_batch_size=3)
    assert loss.must_retokenize is their_loss.must_retokenize is False
    loss.must_retokenize = their_loss.must_retokenize = True
    their_loss.tokenizer = theirs.tokenizer  # ST only sets this when it decides to retokenize itself
    assert loss.guided_inputs.must_retokenize
    check_st_parity((loss, ours), (their_loss, theirs), COLUMNS)
