"""OnlineContrastiveLoss: equal to sentence-transformers 6.2 and to the direct formula, trains on MRPC."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import BINARY_LABELS, PAIRS_A, PAIRS_B, mrpc_pairs
from triplet_helpers import assert_trainer_rejects, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.contrastive import SiameseDistanceMetric
from embedforge.losses.online_contrastive import OnlineContrastiveLoss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

LABELS = {
    "mixed": BINARY_LABELS,
    "all-positive": torch.ones(6, dtype=torch.long),
    "all-negative": torch.zeros(6, dtype=torch.long),
    "one-negative": torch.tensor([[1], [1], [0], [1], [1], [1]]),
}


@pytest.mark.parametrize("labels", list(LABELS))
def test_matches_sentence_transformers(model_pair: tuple, check_parity: Callable[..., float], labels: str) -> None:
    ours, theirs = model_pair
    our_loss = OnlineContrastiveLoss(ours, margin=0.9)
    their_loss = st_losses.OnlineContrastiveLoss(theirs, margin=0.9)
    check_parity(our_loss, their_loss, [PAIRS_A, PAIRS_B], LABELS[labels])


@pytest.mark.parametrize("metric", ["EUCLIDEAN", "MANHATTAN"])
def test_matches_sentence_transformers_with_distances(
    model_pair: tuple, check_parity: Callable[..., float], metric: str
) -> None:
    ours, theirs = model_pair
    our_loss = OnlineContrastiveLoss(ours, getattr(SiameseDistanceMetric, metric), margin=5.0)
    their_loss = st_losses.OnlineContrastiveLoss(theirs, getattr(st_losses.SiameseDistanceMetric, metric), 5.0)
    check_parity(our_loss, their_loss, [PAIRS_A, PAIRS_B], BINARY_LABELS)


def _reference(distances: np.ndarray, labels: np.ndarray, margin: float) -> float:
    positives = [d for d, y in zip(distances, labels, strict=True) if y == 1]
    negatives = [d for d, y in zip(distances, labels, strict=True) if y == 0]
    total = 0.0
    for d in positives:
        if d > (min(negatives) if negatives else np.mean(positives)):
            total += d**2
    for d in negatives:
        if d < (max(positives) if positives else np.mean(negatives)):
            total += max(margin - d, 0.0) ** 2
    return total


@pytest.mark.parametrize("labels", [[1, 0, 0, 1, 0, 1, 1, 0, 2], [1, 1, 1, 1, 1, 1, 1, 1, 1], [0] * 9])
def test_value_equals_direct_formula(labels: list[int]) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(9, 5)), rng.normal(size=(9, 5))
    distances = 1 - (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    loss = OnlineContrastiveLoss(torch.nn.Identity(), margin=1.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = loss.compute_loss_from_embeddings([torch.tensor(a), torch.tensor(b)], torch.tensor(labels))
    assert any("expects binary labels" in str(w.message) for w in caught) == (2 in labels)  # label 2 is ignored
    expected = _reference(distances, np.array(labels), margin=1.2)
    assert value.item() == pytest.approx(expected, abs=1e-9)
    assert expected > 0


def test_no_hard_pair_gives_zero() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.1], [-1.0, 0.0]])  # the positive is closer than the negative
    value = OnlineContrastiveLoss(torch.nn.Identity()).compute_loss_from_embeddings([a, b], torch.tensor([1, 0]))
    assert value.item() == 0.0


def test_trains_on_mrpc(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_two_steps(model, mrpc_pairs(shared_data), OnlineContrastiveLoss(model), tmp_path)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": ["x", "y"], "label": [0, 1]}, "1 input column", id="one-text"),
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "label": [1, -1]}, "other than 0 and 1", id="not-binary"),
    ],
)
def test_trainer_rejects_wrong_data(model_pair: tuple, tmp_path: Path, columns: dict, expected: str) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, OnlineContrastiveLoss(ours), columns, expected, tmp_path)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = OnlineContrastiveLoss(ours, SiameseDistanceMetric.MANHATTAN, margin=2.0)
    their_loss = st_losses.OnlineContrastiveLoss(theirs, st_losses.SiameseDistanceMetric.MANHATTAN, margin=2.0)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.BINARY, loss.input_spec.description)
    assert loss.citation is None
