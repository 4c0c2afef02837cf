"""TripletLoss: equal to ST 6.2 and to the direct formula, trains on NLI triplets, rejects bad data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from triplet_helpers import ExposedModel, assert_trainer_rejects, nli_triplets, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.functional import triplet as triplet_math
from embedforge.losses.triplet import TripletDistanceMetric, TripletLoss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")


def _squared_euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).sum(dim=-1)


@pytest.mark.parametrize(
    ("metric", "margin"),
    [
        ("EUCLIDEAN", 5.0),
        ("EUCLIDEAN", 0.2),
        ("COSINE", 0.02),
        ("MANHATTAN", 5.0),
        ("MANHATTAN", 0.5),
        (_squared_euclidean, 0.5),
    ],
    ids=["euclidean", "euclidean-small-margin", "cosine", "manhattan", "manhattan-small-margin", "custom"],
)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], metric: object, margin: float
) -> None:
    ours, theirs = model_pair
    our_metric = getattr(TripletDistanceMetric, metric) if isinstance(metric, str) else metric
    their_metric = getattr(st_losses.TripletDistanceMetric, metric) if isinstance(metric, str) else metric
    check_parity(
        TripletLoss(ours, distance_metric=our_metric, triplet_margin=margin),
        ExposedModel(st_losses.TripletLoss(theirs, distance_metric=their_metric, triplet_margin=margin), theirs),
        columns[:3],
    )


def _distances(metric: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if metric == "EUCLIDEAN":
        return np.sqrt(((a - b) ** 2).sum(axis=1))
    if metric == "MANHATTAN":
        return np.abs(a - b).sum(axis=1)
    return 1 - (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("metric", ["EUCLIDEAN", "COSINE", "MANHATTAN"])
@pytest.mark.parametrize("margin", [5.0, 0.5, 0.0])
def test_value_equals_direct_formula(metric: str, margin: float) -> None:
    rng = np.random.default_rng(4)
    anchor, positive, negative = (rng.normal(size=(7, 5)) for _ in range(3))
    expected = np.maximum(_distances(metric, anchor, positive) - _distances(metric, anchor, negative) + margin, 0)
    anchor_t, positive_t, negative_t = (torch.tensor(x) for x in (anchor, positive, negative))
    value = triplet_math.triplet_loss(anchor_t, positive_t, negative_t, TripletDistanceMetric[metric], margin)
    assert value.item() == pytest.approx(float(expected.mean()), abs=1e-10)


def test_trains_on_nli_triplets(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    losses = train_two_steps(model, nli_triplets(shared_data), TripletLoss(model), tmp_path)
    assert all(value > 0 for value in losses)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"anchor": ["a"], "positive": ["b"]}, "1 input column|2 input column"),
        ({"anchor": ["a"], "positive": ["b"], "negative": ["c"], "negative_2": ["d"]}, "4 input column"),
        ({"anchor": ["a"], "positive": ["b"], "negative": ["c"], "label": [1]}, "takes no labels"),
    ],
    ids=["pairs", "four-texts", "labels"],
)
def test_trainer_rejects_wrong_shapes(tiny_bert_path: Path, tmp_path: Path, columns: dict, expected: str) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert_trainer_rejects(model, TripletLoss(model), columns, expected, tmp_path)


def test_distance_metrics_equal_sentence_transformers() -> None:
    a, b = torch.randn(6, 8), torch.randn(6, 8)
    for name in ("COSINE", "EUCLIDEAN", "MANHATTAN"):
        torch.testing.assert_close(
            getattr(TripletDistanceMetric, name)(a, b), getattr(st_losses.TripletDistanceMetric, name)(a, b)
        )
    assert [member.name for member in TripletDistanceMetric] == ["COSINE", "EUCLIDEAN", "MANHATTAN"]


def test_declarations_config_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    assert (
        TripletLoss(ours).get_config_dict()
        == st_losses.TripletLoss(theirs).get_config_dict()
        == {"distance_metric": "TripletDistanceMetric.EUCLIDEAN", "triplet_margin": 5}
    )
    for name in ("COSINE", "MANHATTAN"):
        loss = TripletLoss(ours, getattr(TripletDistanceMetric, name), 1.5)
        their_loss = st_losses.TripletLoss(theirs, getattr(st_losses.TripletDistanceMetric, name), 1.5)
        assert loss.get_config_dict() == their_loss.get_config_dict()
    custom = TripletLoss(ours, distance_metric=_squared_euclidean)
    assert custom.get_config_dict() == st_losses.TripletLoss(theirs, _squared_euclidean).get_config_dict()
    loss = TripletLoss(ours)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(3, 3, LabelKind.NONE, loss.input_spec.description)
    assert set(loss.config_keys) == set(st_losses.TripletLoss(theirs).get_config_dict())
    assert loss.citation == st_losses.TripletLoss(theirs).citation
    with pytest.raises(ValueError, match="exactly 3 columns"):
        loss.compute_loss_from_embeddings([torch.randn(2, 3), torch.randn(2, 3)])
