"""CachedMultipleNegativesRankingLoss: equal to sentence-transformers 6.2, equal to the plain loss, trains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
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
from datasets import Dataset

from embedforge import SentenceTransformer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import MultipleNegativesRankingLoss
from embedforge.losses.adaptive_layer import AdaptiveLayerLoss
from embedforge.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from embedforge.losses.matryoshka import MatryoshkaLoss
from embedforge.losses.matryoshka_2d import Matryoshka2dLoss
from embedforge.util import dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]

ALL_DIRECTIONS = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")

CASES = [
    pytest.param(2, {}, id="pairs"),
    pytest.param(3, {}, id="triplets"),
    pytest.param(3, {"mini_batch_size": 3}, id="uneven-minibatches"),
    pytest.param(3, {"mini_batch_size": 32}, id="one-minibatch"),
    pytest.param(3, {"mini_batch_num_tokens": 24}, id="token-budget"),
    pytest.param(3, {"directions": ALL_DIRECTIONS}, id="all-directions"),
    pytest.param(3, {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"}, id="sym"),
    pytest.param(3, {"hardness_mode": "in_batch_negatives", "hardness_strength": 9.0}, id="hard-in-batch"),
    pytest.param(
        3,
        {"hardness_mode": "all_negatives", "hardness_strength": 3.0, "directions": ALL_DIRECTIONS},
        id="hard-all-directions",
    ),
    pytest.param(2, {"similarity_fct": "dot", "scale": 1.0}, id="dot"),
]


@pytest.mark.parametrize(("num_columns", "kwargs"), CASES)
def test_matches_sentence_transformers(model_pair: tuple, num_columns: int, kwargs: dict) -> None:
    ours, theirs = model_pair
    our_kwargs, their_kwargs = {"mini_batch_size": 2, **kwargs}, {"mini_batch_size": 2, **kwargs}
    if kwargs.get("similarity_fct") == "dot":
        our_kwargs["similarity_fct"], their_kwargs["similarity_fct"] = dot_score, st_util.dot_score
    value = check_st_parity(
        (CachedMultipleNegativesRankingLoss(ours, **our_kwargs), ours),
        (st_losses.CachedMultipleNegativesRankingLoss(theirs, **their_kwargs), theirs),
        COLUMNS[:num_columns],
    )
    assert value > 0


@pytest.fixture(scope="module")
def model64(_tiny_bert_session: Path) -> SentenceTransformer:
    return load_model(_tiny_bert_session, torch.float64)


@pytest.fixture(scope="module")
def model64_without_prompt(_tiny_bert_session: Path) -> SentenceTransformer:
    return load_model(_tiny_bert_session, torch.float64, include_prompt=False)


SCENARIOS: dict[str, tuple[dict, Callable | None]] = {
    "uneven": ({"mini_batch_size": 3}, None),
    "size-one": ({"mini_batch_size": 1}, None),
    "token-budget": ({"mini_batch_num_tokens": 20}, None),
    "options": (
        {
            "mini_batch_size": 2,
            "directions": ALL_DIRECTIONS,
            "hardness_mode": "all_negatives",
            "hardness_strength": 2.0,
        },
        None,
    ),
    "matryoshka": (
        {"mini_batch_size": 3},
        lambda model, loss: MatryoshkaLoss(model, loss, [32, 16, 8], matryoshka_weights=[1.0, 0.5, 2.0]),
    ),
    "adaptive-layer": (
        {"mini_batch_size": 3},
        lambda model, loss: AdaptiveLayerLoss(
            model, loss, n_layers_per_step=-1, layer_weighting="log", prior_layers_weight=0.7, kl_div_weight=0.5
        ),
    ),
    "matryoshka-2d": (
        {"mini_batch_size": 2},
        lambda model, loss: Matryoshka2dLoss(
            model, loss, [32, 16, 8], [1.0, 0.5, 2.0], n_layers_per_step=-1, n_dims_per_step=-1
        ),
    ),
}


@pytest.mark.parametrize("prompt", [None, "query: what "], ids=["no-prompt", "prompt-excluded"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_equals_the_plain_loss(
    model64: SentenceTransformer, model64_without_prompt: SentenceTransformer, scenario: str, prompt: str | None
) -> None:
    """Same value and gradients (float64, so only the engine could differ) for 7 rows, any mini-batching."""
    model = model64_without_prompt if prompt else model64
    kwargs, wrap = SCENARIOS[scenario]
    options = {key: value for key, value in kwargs.items() if not key.startswith("mini_batch")}
    cached, plain = CachedMultipleNegativesRankingLoss(model, **kwargs), MultipleNegativesRankingLoss(model, **options)
    if wrap is not None:
        cached, plain = wrap(model, cached), wrap(model, plain)
    features = tokenize(model, COLUMNS, prompt=prompt)
    if prompt:
        assert features[0]["prompt_length"] > 1
    value, grads = loss_and_grads(cached, model, features)
    expected_value, expected = loss_and_grads(plain, model, features)
    assert value == pytest.approx(expected_value, abs=1e-10)
    assert_same_grads(grads, expected, atol=1e-9)


def test_prompt_tokens_are_really_excluded(
    model64: SentenceTransformer, model64_without_prompt: SentenceTransformer
) -> None:
    with torch.no_grad():
        values = [
            CachedMultipleNegativesRankingLoss(model, mini_batch_size=3)(
                tokenize(model, COLUMNS, prompt="query: what "), None
            ).item()
            for model in (model64, model64_without_prompt)
        ]
    assert values[0] != pytest.approx(values[1], abs=1e-6)


def test_float32_equals_the_plain_loss_up_to_rounding(model_pair: tuple) -> None:
    ours, _ = model_pair
    features = tokenize(ours, COLUMNS)
    value, grads = loss_and_grads(CachedMultipleNegativesRankingLoss(ours, mini_batch_size=3), ours, features)
    expected_value, expected = loss_and_grads(MultipleNegativesRankingLoss(ours), ours, features)
    assert value == pytest.approx(expected_value, abs=1e-5)
    assert_same_grads(grads, expected, atol=1e-5)


def test_value_on_hand_made_embeddings_matches_the_formula(model_pair: tuple) -> None:
    """calculate_loss on embeddings split into uneven mini-batches equals InfoNCE written out directly."""
    ours, _ = model_pair
    generator = torch.Generator().manual_seed(0)
    anchors, positives, negatives = (torch.randn(5, 4, generator=generator) for _ in range(3))
    loss = CachedMultipleNegativesRankingLoss(ours, scale=7.0, mini_batch_size=2)
    reps = [[column[:2], column[2:4], column[4:]] for column in (anchors, positives, negatives)]
    value = loss.calculate_loss(reps, None)
    normalize = lambda x: x / x.norm(dim=1, keepdim=True)  # noqa: E731
    q, docs = normalize(anchors), normalize(torch.cat([positives, negatives]))
    expected = torch.stack(
        [torch.log(torch.exp(7.0 * q[i] @ docs.T).sum()) - 7.0 * q[i] @ docs[i] for i in range(5)]
    ).mean()
    assert value.item() == pytest.approx(expected.item(), abs=1e-5)
    assert F.cross_entropy(7.0 * q @ docs.T, torch.arange(5)).item() == pytest.approx(value.item(), abs=1e-5)


def test_trains_two_steps(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path)
    train_two_steps(
        model, CachedMultipleNegativesRankingLoss(model, mini_batch_size=3), caption_pairs(shared_data), tmp_path
    )


def test_trains_with_prompts_and_token_budget(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = load_model(tiny_bert_path, include_prompt=False)
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_num_tokens=40)
    train_two_steps(model, loss, caption_pairs(shared_data), tmp_path, prompts={"anchor": "query: "})


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"anchor": ["a", "b"]}, "1 input column"),
        ({"anchor": ["a", "b"], "positive": ["c", "d"], "score": [0.1, 0.2]}, "takes no labels"),
    ],
)
def test_wrong_columns_are_rejected_before_training(
    tiny_bert_path: Path, tmp_path: Path, columns: dict, message: str
) -> None:
    model = load_model(tiny_bert_path)
    with pytest.raises(DatasetValidationError, match=message):
        train_two_steps(model, CachedMultipleNegativesRankingLoss(model), Dataset.from_dict(columns), tmp_path)


def test_config_and_citation_match_sentence_transformers(model_pair: tuple) -> None:
    ours, theirs = model_pair
    kwargs = {
        "mini_batch_size": 8,
        "mini_batch_num_tokens": 100,
        "directions": ALL_DIRECTIONS,
        "hardness_mode": "in_batch_negatives",
        "hardness_strength": 1.0,
    }
    loss = CachedMultipleNegativesRankingLoss(ours, **kwargs)
    theirs_loss = st_losses.CachedMultipleNegativesRankingLoss(theirs, **kwargs)
    assert loss.get_config_dict() == theirs_loss.get_config_dict()
    assert loss.citation == theirs_loss.citation
    assert loss.temperature == theirs_loss.temperature
    with pytest.raises(ValueError, match="at least 2 text columns"):
        loss(tokenize(ours, COLUMNS[:1]), None)
    with pytest.raises(ValueError, match="per_direction"):
        CachedMultipleNegativesRankingLoss(ours, directions=ALL_DIRECTIONS, partition_mode="per_direction")
