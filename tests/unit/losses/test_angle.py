"""AnglELoss: equal to sentence-transformers 6.2 (pairs and n-tuples) and to the direct formula; trains; validates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import stsb_pairs
from triplet_helpers import assert_trainer_rejects, nli_triplets, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import CoSENTLoss, InputSpec, LabelKind, Loss
from embedforge.losses.angle import AnglELoss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

SCORES = torch.tensor([0.9, 0.2, 0.5, 0.2, 1.0])


@pytest.fixture(scope="module")
def double_pair(model_pair: tuple) -> tuple:
    """float64 copies of both models.

    With 1/0 pair labels and scale 20 the gradients reach about 15, where float32 rounding alone moves both
    implementations about 2.5e-5 from the float64 result; in float64 they agree to 1e-13.
    """
    return tuple(copy.deepcopy(model).double() for model in model_pair)


@pytest.mark.parametrize(
    ("num_columns", "labels"),
    [
        pytest.param(2, SCORES, id="pairs"),
        pytest.param(2, torch.tensor([1, 0, 1, 0, 0]), id="pairs-int"),
        pytest.param(3, None, id="triplets"),
        pytest.param(4, None, id="two-negatives"),
        pytest.param(3, torch.tensor([1.0, 0.8, 0.6, 0.9, 1.0]), id="triplets-scored"),
    ],
)
def test_matches_sentence_transformers(
    double_pair: tuple,
    columns: list[list[str]],
    check_parity: Callable[..., float],
    num_columns: int,
    labels: torch.Tensor | None,
) -> None:
    ours, theirs = double_pair
    value = check_parity(AnglELoss(ours), st_losses.AnglELoss(theirs), columns[:num_columns], labels)
    assert value > 0


def test_matches_sentence_transformers_with_scale(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float]
) -> None:
    ours, theirs = model_pair
    check_parity(AnglELoss(ours, scale=3.0), st_losses.AnglELoss(theirs, scale=3.0), columns[:2], SCORES)


def _angle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    half = x.shape[1] // 2
    cosines = (x * y).sum(axis=1)
    sines = (x[:, half:] * y[:, :half] - x[:, :half] * y[:, half:]).sum(axis=1)
    return np.abs(cosines + sines)


def _cosent(scores: np.ndarray, labels: np.ndarray, scale: float) -> float:
    terms = [
        np.exp(scale * (scores[j] - scores[i]))
        for i in range(len(labels))
        for j in range(len(labels))
        if labels[i] > labels[j]
    ]
    return float(np.log1p(np.sum(terms)))


def test_value_on_pairs_equals_direct_formula() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    labels = np.array([0.1, 0.9, 0.4, 0.4, 0.7, 0.0, 1.0])
    value = AnglELoss(torch.nn.Identity(), scale=5.0).compute_loss_from_embeddings(
        [torch.tensor(a), torch.tensor(b)], torch.tensor(labels)
    )
    assert value.item() == pytest.approx(_cosent(_angle(a, b), labels, 5.0), abs=1e-9)


@pytest.mark.parametrize("scored", [False, True])
def test_value_on_triplets_equals_direct_formula(scored: bool) -> None:
    rng = np.random.default_rng(3)
    anchors, positives, negatives_1, negatives_2 = (rng.normal(size=(4, 6)) for _ in range(4))
    row_labels = np.array([1.0, 0.7, 0.9, 0.8]) if scored else np.ones(4)
    pair_scores = np.concatenate([_angle(anchors, p) for p in (positives, negatives_1, negatives_2)])
    pair_labels = np.concatenate([row_labels, 1 - row_labels, 1 - row_labels])
    embeddings = [torch.tensor(e) for e in (anchors, positives, negatives_1, negatives_2)]
    value = AnglELoss(torch.nn.Identity()).compute_loss_from_embeddings(
        embeddings, torch.tensor(row_labels) if scored else None
    )
    assert value.item() == pytest.approx(_cosent(pair_scores, pair_labels, 20.0), abs=1e-9)


def test_errors(model_pair: tuple) -> None:
    loss = AnglELoss(model_pair[0])
    with pytest.raises(ValueError, match="needs a score per pair"):
        loss.compute_loss_from_embeddings([torch.randn(3, 4), torch.randn(3, 4)], None)
    with pytest.raises(ValueError, match="AnglELoss expects 3 labels"):
        loss.compute_loss_from_embeddings([torch.randn(3, 4)] * 3, torch.ones(2))


def test_trains_on_scored_pairs_and_on_triplets(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_two_steps(model, stsb_pairs(shared_data), AnglELoss(model), tmp_path / "pairs")
    train_two_steps(model, nli_triplets(shared_data), AnglELoss(model), tmp_path / "triplets")


def test_trainer_rejects_one_column(model_pair: tuple, tmp_path: Path) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, AnglELoss(ours), {"a": ["x", "y"], "score": [0.1, 0.5]}, "1 input column", tmp_path)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = AnglELoss(ours, scale=7.0)
    assert isinstance(loss, CoSENTLoss)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, None, LabelKind.OPTIONAL, loss.input_spec.description)
    assert loss.get_config_dict() == st_losses.AnglELoss(theirs, scale=7.0).get_config_dict()
    assert loss.citation == st_losses.AnglELoss(theirs).citation
