"""MultipleNegativesRankingLoss: same value and gradients as sentence-transformers 6.2 for every option."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import torch

from embedforge.losses import InputSpec, LabelKind, Loss, MultipleNegativesRankingLoss, distributed
from embedforge.util import cos_sim, dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

ALL_DIRECTIONS = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")

CASES = [
    pytest.param(0, {}, id="pairs"),
    pytest.param(1, {}, id="triplets"),
    pytest.param(2, {}, id="two-negatives"),
    pytest.param(0, {"directions": ALL_DIRECTIONS}, id="pairs-all-directions"),
    pytest.param(1, {"directions": ("query_to_doc", "doc_to_query")}, id="q2d-d2q-joint"),
    pytest.param(1, {"directions": ("query_to_doc", "query_to_query")}, id="q2d-q2q-joint"),
    pytest.param(1, {"directions": ("query_to_doc", "doc_to_doc")}, id="q2d-d2d-joint"),
    pytest.param(2, {"directions": ALL_DIRECTIONS}, id="two-negatives-all-directions"),
    pytest.param(1, {"partition_mode": "per_direction"}, id="per-direction-q2d"),
    pytest.param(
        2, {"directions": ("doc_to_query", "query_to_doc"), "partition_mode": "per_direction"}, id="per-direction-sym"
    ),
    pytest.param(0, {"hardness_mode": "in_batch_negatives", "hardness_strength": 9.0}, id="hard-in-batch-pairs"),
    pytest.param(2, {"hardness_mode": "in_batch_negatives", "hardness_strength": 9.0}, id="hard-in-batch"),
    pytest.param(2, {"hardness_mode": "hard_negatives", "hardness_strength": 5.0}, id="hard-negatives"),
    pytest.param(1, {"hardness_mode": "all_negatives", "hardness_strength": 3.0}, id="hard-all"),
    pytest.param(
        1,
        {"directions": ALL_DIRECTIONS, "hardness_mode": "all_negatives", "hardness_strength": 2.0},
        id="hard-all-directions",
    ),
    pytest.param(1, {"hardness_mode": "hard_negatives", "hardness_strength": 0.0}, id="hard-zero-strength"),
    pytest.param(1, {"scale": 7.5}, id="scale"),
    pytest.param(1, {"similarity_fct": "dot", "scale": 1.0}, id="dot"),
    pytest.param(1, {"similarity_fct": "dot", "scale": 0.5, "directions": ALL_DIRECTIONS}, id="dot-all-directions"),
]


@pytest.mark.parametrize(("num_negatives", "kwargs"), CASES)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], num_negatives: int, kwargs: dict
) -> None:
    ours, theirs = model_pair
    our_kwargs, their_kwargs = dict(kwargs), dict(kwargs)
    if kwargs.get("similarity_fct") == "dot":
        our_kwargs["similarity_fct"], their_kwargs["similarity_fct"] = dot_score, st_util.dot_score
    value = check_parity(
        MultipleNegativesRankingLoss(ours, **our_kwargs),
        st_losses.MultipleNegativesRankingLoss(theirs, **their_kwargs),
        columns[: 2 + num_negatives],
    )
    assert value > 0


def test_gather_without_process_group_is_the_plain_loss(
    model_pair: tuple, columns: list[list[str]], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = model_pair
    monkeypatch.setattr(distributed, "_warned_not_distributed", False)
    features = [ours.tokenize(column) for column in columns[:3]]
    with torch.no_grad():
        plain = MultipleNegativesRankingLoss(ours)(features, None)
        with caplog.at_level(logging.WARNING, logger=distributed.__name__):
            gathered = MultipleNegativesRankingLoss(ours, gather_across_devices=True)(features, None)
    assert gathered.item() == pytest.approx(plain.item(), abs=1e-7)
    assert "torch.distributed is not initialized" in caplog.text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale": 0.0},
        {"directions": ()},
        {"directions": ("doc_to_query",)},
        {"directions": ("query_to_doc", "sideways")},
        {"partition_mode": "both"},
        {"directions": ("query_to_doc", "query_to_query"), "partition_mode": "per_direction"},
        {"directions": ("query_to_doc", "doc_to_doc"), "partition_mode": "per_direction"},
        {"hardness_mode": "hardest"},
        {"hardness_strength": -1.0},
    ],
)
def test_invalid_options_raise_as_in_sentence_transformers(model_pair: tuple, kwargs: dict) -> None:
    ours, theirs = model_pair
    with pytest.raises(ValueError):
        st_losses.MultipleNegativesRankingLoss(theirs, **kwargs)
    with pytest.raises(ValueError):
        MultipleNegativesRankingLoss(ours, **kwargs)


def test_one_column_is_a_clear_error(model_pair: tuple, columns: list[list[str]]) -> None:
    ours, _ = model_pair
    with pytest.raises(ValueError, match="at least 2 text columns"):
        MultipleNegativesRankingLoss(ours).compute_loss_from_embeddings([torch.zeros(2, 4)])


def test_declarations_and_config_match_sentence_transformers(model_pair: tuple) -> None:
    ours, theirs = model_pair
    kwargs = {"directions": ALL_DIRECTIONS, "hardness_mode": "in_batch_negatives", "hardness_strength": 1.0}
    loss = MultipleNegativesRankingLoss(ours, **kwargs)
    their_loss = st_losses.MultipleNegativesRankingLoss(theirs, **kwargs)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, None, LabelKind.NONE, loss.input_spec.description)
    assert loss.input_spec.accepts_text_count(5)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert set(loss.config_keys) == set(their_loss.get_config_dict())
    assert loss.temperature == their_loss.temperature
    assert MultipleNegativesRankingLoss(ours, similarity_fct=dot_score).get_config_dict()["similarity_fct"] == (
        "dot_score"
    )
    assert MultipleNegativesRankingLoss(ours, similarity_fct=cos_sim).get_config_dict()["similarity_fct"] == "cos_sim"
    ours.similarity_fn_name = "dot"
    try:
        described = MultipleNegativesRankingLoss(ours, similarity_fct=ours.similarity).get_config_dict()
    finally:
        ours.similarity_fn_name = "cosine"
    assert described["similarity_fct"] == "dot_score"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"directions": ALL_DIRECTIONS},
        {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"},
        {"directions": ("query_to_doc", "doc_to_query")},
    ],
)
def test_citation_follows_the_variant(model_pair: tuple, kwargs: dict) -> None:
    ours, theirs = model_pair
    expected = st_losses.MultipleNegativesRankingLoss(theirs, **kwargs).citation
    assert MultipleNegativesRankingLoss(ours, **kwargs).citation == expected
