"""ContrastiveLoss: equal to sentence-transformers 6.2 and to the direct formula, trains on MRPC, rejects bad data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import BINARY_LABELS, PAIRS_A, PAIRS_B, mrpc_pairs
from triplet_helpers import assert_trainer_rejects, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.contrastive import ContrastiveLoss, SiameseDistanceMetric

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

METRICS = ["EUCLIDEAN", "MANHATTAN", "COSINE_DISTANCE"]


@pytest.mark.parametrize(
    ("metric", "margin", "size_average"),
    [("EUCLIDEAN", 5.0, True), ("MANHATTAN", 5.0, False), ("COSINE_DISTANCE", 0.5, True)],
)
def test_matches_sentence_transformers(
    model_pair: tuple, check_parity: Callable[..., float], metric: str, margin: float, size_average: bool
) -> None:
    ours, theirs = model_pair
    kwargs = {"margin": margin, "size_average": size_average}
    our_loss = ContrastiveLoss(ours, distance_metric=getattr(SiameseDistanceMetric, metric), **kwargs)
    their_loss = st_losses.ContrastiveLoss(theirs, getattr(st_losses.SiameseDistanceMetric, metric), **kwargs)
    check_parity(our_loss, their_loss, [PAIRS_A, PAIRS_B], BINARY_LABELS)


def test_matches_sentence_transformers_with_float_and_column_labels(
    model_pair: tuple, check_parity: Callable[..., float]
) -> None:
    ours, theirs = model_pair
    labels = BINARY_LABELS.double().unsqueeze(1)
    check_parity(ContrastiveLoss(ours), st_losses.ContrastiveLoss(theirs), [PAIRS_A, PAIRS_B], labels)


def _reference(a: np.ndarray, b: np.ndarray, labels: np.ndarray, metric: str, margin: float, mean: bool) -> float:
    if metric == "EUCLIDEAN":
        distances = np.sqrt(((a - b + 1e-6) ** 2).sum(axis=1))
    elif metric == "MANHATTAN":
        distances = np.abs(a - b + 1e-6).sum(axis=1)
    else:
        distances = 1 - (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    terms = [0.5 * (d**2 if y == 1 else max(margin - d, 0.0) ** 2) for d, y in zip(distances, labels, strict=True)]
    return float(np.mean(terms) if mean else np.sum(terms))


@pytest.mark.parametrize("size_average", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_value_equals_direct_formula(metric: str, size_average: bool) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(8, 5)), rng.normal(size=(8, 5))
    labels = np.array([1, 0, 0, 1, 0, 1, 1, 0])
    margin = {"EUCLIDEAN": 3.0, "MANHATTAN": 6.0, "COSINE_DISTANCE": 1.0}[metric]  # some negatives inside
    loss = ContrastiveLoss(torch.nn.Identity(), getattr(SiameseDistanceMetric, metric), margin, size_average)
    value = loss.compute_loss_from_embeddings([torch.tensor(a), torch.tensor(b)], torch.tensor(labels))
    expected = _reference(a, b, labels, metric, margin, size_average)
    assert value.item() == pytest.approx(expected, abs=1e-9)
    assert expected > 0


def test_non_binary_labels_warn_once(model_pair: tuple) -> None:
    loss = ContrastiveLoss(model_pair[0])
    embeddings = [torch.randn(3, 4), torch.randn(3, 4)]
    with pytest.warns(UserWarning, match="expects binary labels"):
        loss.compute_loss_from_embeddings(embeddings, torch.tensor([0.2, 1.0, 0.0]))
    loss.compute_loss_from_embeddings(embeddings, torch.tensor([0.2, 1.0, 0.0]))  # no second warning


def test_label_errors(model_pair: tuple) -> None:
    loss = ContrastiveLoss(model_pair[0])
    embeddings = [torch.randn(3, 4), torch.randn(3, 4)]
    with pytest.raises(ValueError, match="expects 3 labels"):
        loss.compute_loss_from_embeddings(embeddings, torch.ones(4))
    with pytest.raises(ValueError, match="0/1 label"):
        loss.compute_loss_from_embeddings(embeddings, None)
    with pytest.raises(ValueError, match="exactly 2 text columns"):
        loss.compute_loss_from_embeddings([*embeddings, torch.randn(3, 4)], torch.ones(3))


def test_trains_on_mrpc(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_two_steps(model, mrpc_pairs(shared_data), ContrastiveLoss(model), tmp_path)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": ["x", "y"], "label": [0, 1]}, "1 input column", id="one-text"),
        pytest.param({"a": ["x", "y"], "b": ["x", "y"]}, "no label column", id="no-label"),
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "label": [0, 2]}, "other than 0 and 1", id="not-binary"),
    ],
)
def test_trainer_rejects_wrong_data(model_pair: tuple, tmp_path: Path, columns: dict, expected: str) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, ContrastiveLoss(ours), columns, expected, tmp_path)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    for metric in METRICS:
        loss = ContrastiveLoss(ours, getattr(SiameseDistanceMetric, metric), margin=0.7, size_average=False)
        their_loss = st_losses.ContrastiveLoss(theirs, getattr(st_losses.SiameseDistanceMetric, metric), 0.7, False)
        assert loss.get_config_dict() == their_loss.get_config_dict()
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.BINARY, loss.input_spec.description)
    assert loss.citation == st_losses.ContrastiveLoss(theirs).citation
    assert ContrastiveLoss(ours, distance_metric=torch.dist).get_config_dict()["distance_metric"] == "dist"
