"""CachedMultipleNegativesSymmetricRankingLoss: equal to sentence-transformers 6.2 and to the plain loss, trains."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from cached_helpers import (
    COLUMNS,
    assert_same_grads,
    caption_pairs,
    check_st_parity,
    load_model,
    loss_and_grads,
    single_thread,
    tokenize,
    train_two_steps,
)

from embedforge import SentenceTransformer
from embedforge.losses.cached_multiple_negatives_symmetric_ranking import CachedMultipleNegativesSymmetricRankingLoss
from embedforge.losses.matryoshka import MatryoshkaLoss
from embedforge.losses.multiple_negatives_symmetric_ranking import MultipleNegativesSymmetricRankingLoss
from embedforge.util import dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

pytestmark = [pytest.mark.usefixtures("single_thread"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]
__all__ = ["single_thread"]


@pytest.mark.parametrize(
    ("num_columns", "kwargs"),
    [
        pytest.param(2, {}, id="pairs"),
        pytest.param(3, {}, id="with-negatives"),
        pytest.param(2, {"mini_batch_num_tokens": 16}, id="token-budget"),
        pytest.param(2, {"scale": 5.0, "mini_batch_size": 3}, id="scale"),
    ],
)
def test_matches_sentence_transformers(model_pair: tuple, num_columns: int, kwargs: dict) -> None:
    ours, theirs = model_pair
    kwargs = {"mini_batch_size": 2, **kwargs}
    check_st_parity(
        (CachedMultipleNegativesSymmetricRankingLoss(ours, **kwargs), ours),
        (st_losses.CachedMultipleNegativesSymmetricRankingLoss(theirs, **kwargs), theirs),
        COLUMNS[:num_columns],
    )


def test_matches_sentence_transformers_with_dot(model_pair: tuple) -> None:
    ours, theirs = model_pair
    check_st_parity(
        (
            CachedMultipleNegativesSymmetricRankingLoss(ours, scale=1.0, similarity_fct=dot_score, mini_batch_size=2),
            ours,
        ),
        (
            st_losses.CachedMultipleNegativesSymmetricRankingLoss(
                theirs, scale=1.0, similarity_fct=st_util.dot_score, mini_batch_size=2
            ),
            theirs,
        ),
        COLUMNS[:2],
    )


@pytest.fixture(scope="module")
def models64(_tiny_bert_session: Path) -> dict[bool, SentenceTransformer]:
    return {include: load_model(_tiny_bert_session, torch.float64, include_prompt=include) for include in (True, False)}


@pytest.mark.parametrize("prompt", [None, "query: what "], ids=["no-prompt", "prompt-excluded"])
@pytest.mark.parametrize(
    ("kwargs", "matryoshka"),
    [
        ({"mini_batch_size": 3}, False),
        ({"mini_batch_num_tokens": 20}, False),
        ({"mini_batch_size": 2}, True),
    ],
    ids=["uneven", "token-budget", "matryoshka"],
)
def test_equals_the_plain_loss(models64: dict, kwargs: dict, matryoshka: bool, prompt: str | None) -> None:
    model = models64[prompt is None]
    cached = CachedMultipleNegativesSymmetricRankingLoss(model, **kwargs)
    plain = MultipleNegativesSymmetricRankingLoss(model)
    if matryoshka:
        cached, plain = (MatryoshkaLoss(model, loss, [32, 8], matryoshka_weights=[1, 3]) for loss in (cached, plain))
    features = tokenize(model, COLUMNS[:2], prompt=prompt)
    value, grads = loss_and_grads(cached, model, features)
    expected_value, expected = loss_and_grads(plain, model, features)
    assert value == pytest.approx(expected_value, abs=1e-10)
    assert_same_grads(grads, expected, atol=1e-9)


def test_value_on_hand_made_embeddings_matches_the_formula(model_pair: tuple) -> None:
    ours, _ = model_pair
    generator = torch.Generator().manual_seed(1)
    anchors, positives = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    loss = CachedMultipleNegativesSymmetricRankingLoss(ours, scale=3.0, mini_batch_size=2)
    value = loss.calculate_loss([[anchors[:3], anchors[3:]], [positives[:2], positives[2:]]], None)
    q = anchors / anchors.norm(dim=1, keepdim=True)
    p = positives / positives.norm(dim=1, keepdim=True)
    scores = 3.0 * q @ p.T
    forward = torch.logsumexp(scores, dim=1) - scores.diagonal()
    backward = torch.logsumexp(scores, dim=0) - scores.diagonal()
    assert value.item() == pytest.approx(((forward + backward) / 2).mean().item(), abs=1e-6)


def test_trains_two_steps(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    train_two_steps(
        model,
        CachedMultipleNegativesSymmetricRankingLoss(model, mini_batch_size=3),
        caption_pairs(shared_data),
        tmp_path,
    )


def test_deprecated_alias_of_the_symmetric_ranking_loss(model_pair: tuple) -> None:
    ours, theirs = model_pair
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = CachedMultipleNegativesSymmetricRankingLoss(ours, mini_batch_size=4)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert loss.directions == ("query_to_doc", "doc_to_query") and loss.partition_mode == "per_direction"
    their_loss = st_losses.CachedMultipleNegativesSymmetricRankingLoss(theirs, mini_batch_size=4)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert loss.citation == their_loss.citation
