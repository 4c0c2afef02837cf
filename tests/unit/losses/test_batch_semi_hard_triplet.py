"""BatchSemiHardTripletLoss: equal to sentence-transformers 6.2, to the direct formula, trains, rejects bad data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from triplet_helpers import (
    BAD_LABELLED_SENTENCES,
    DISTANCE_OPTIONS,
    LABELS,
    SENTENCES,
    ExposedModel,
    assert_trainer_rejects,
    check_embedding_parity,
    cosine_matrix,
    distance_kwargs,
    euclidean_matrix,
    train_two_steps,
    trec_dataset,
)

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.batch_hard_triplet import BatchHardTripletLossDistanceFunction
from embedforge.losses.batch_semi_hard_triplet import BatchSemiHardTripletLoss
from embedforge.losses.functional import triplet as triplet_math
from embedforge.training_args import BatchSamplers

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")


@pytest.fixture(scope="module")
def embeddings(model_pair: tuple) -> torch.Tensor:
    ours, _ = model_pair
    with torch.no_grad():
        return ours(ours.tokenize(SENTENCES))["sentence_embedding"]


def _losses(model_pair: tuple, kwargs: dict) -> tuple[BatchSemiHardTripletLoss, torch.nn.Module]:
    ours, theirs = model_pair
    their_functions = st_losses.BatchHardTripletLossDistanceFunction
    their_loss = st_losses.BatchSemiHardTripletLoss(theirs, **distance_kwargs(kwargs, their_functions))
    return BatchSemiHardTripletLoss(ours, **distance_kwargs(kwargs, BatchHardTripletLossDistanceFunction)), their_loss


@pytest.mark.parametrize("kwargs", DISTANCE_OPTIONS)
def test_matches_sentence_transformers(model_pair: tuple, check_parity: Callable[..., float], kwargs: dict) -> None:
    our_loss, their_loss = _losses(model_pair, kwargs)
    check_parity(our_loss, ExposedModel(their_loss, their_loss.sentence_embedder), [SENTENCES], LABELS["uneven"])


@pytest.mark.parametrize("kwargs", DISTANCE_OPTIONS)
@pytest.mark.parametrize("labels", list(LABELS))
def test_loss_of_embeddings_matches_sentence_transformers(
    model_pair: tuple, embeddings: torch.Tensor, labels: str, kwargs: dict
) -> None:
    check_embedding_parity(*_losses(model_pair, kwargs), embeddings, LABELS[labels])


def _reference(distances: np.ndarray, labels: np.ndarray, margin: float) -> float:
    """Per (anchor, positive): the closest negative farther than the positive, else the farthest negative."""
    hinges = []
    for a in range(len(labels)):
        negatives = [distances[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        for p in range(len(labels)):
            if p == a or labels[p] != labels[a]:
                continue
            farther = [d for d in negatives if d > distances[a, p]]
            chosen = min(farther) if farther else max(negatives)
            hinges.append(max(distances[a, p] - chosen + margin, 0.0))
    return float(np.mean(hinges))


@pytest.mark.parametrize("margin", [5.0, 0.3, 0.0])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_value_equals_direct_formula(margin: float, metric: str) -> None:
    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(10, 3))
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    if metric == "euclidean":
        distance_fct, distances = triplet_math.euclidean_distance_matrix, euclidean_matrix(embeddings)
    else:
        distance_fct, distances = triplet_math.cosine_distance_matrix, cosine_matrix(embeddings)
    value = triplet_math.batch_semi_hard_triplet_loss(
        torch.tensor(embeddings), torch.tensor(labels), distance_fct, margin
    )
    assert value.item() == pytest.approx(_reference(distances, labels, margin), abs=1e-9)


def test_semi_hard_negative_is_chosen_on_a_line() -> None:
    # Points on a line: anchor 0 at 0, positive at 1; negatives at 0.5 (hard), 1.5 (semi-hard), 3 (easy).
    embeddings = torch.tensor([[0.0], [1.0], [0.5], [1.5], [3.0]])
    labels = torch.tensor([0, 0, 1, 2, 3])
    # Pairs (0, 1): d=1, semi-hard negative 1.5 -> max(1 - 1.5 + 1, 0) = 0.5.
    # Pair (1, 0): d=1, negatives of 1 at 0.5, 0.5, 2 -> first one above 1 is 2 -> max(1 - 2 + 1, 0) = 0.
    value = triplet_math.batch_semi_hard_triplet_loss(embeddings, labels, margin=1.0)
    assert value.item() == pytest.approx(0.25)


def test_trains_on_trec_with_group_by_label(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    losses = train_two_steps(
        model,
        trec_dataset(shared_data),
        BatchSemiHardTripletLoss(model, margin=1.0),
        tmp_path,
        batch_sampler=BatchSamplers.GROUP_BY_LABEL,
    )
    assert all(value > 0 for value in losses)


@pytest.mark.parametrize(("columns", "expected"), BAD_LABELLED_SENTENCES)
def test_trainer_rejects_wrong_shapes(tiny_bert_path: Path, tmp_path: Path, columns: dict, expected: str) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert_trainer_rejects(model, BatchSemiHardTripletLoss(model), columns, expected, tmp_path)


def test_declarations_config_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = BatchSemiHardTripletLoss(ours, distance_metric=BatchHardTripletLossDistanceFunction.cosine_distance)
    their_loss = st_losses.BatchSemiHardTripletLoss(
        theirs, distance_metric=st_losses.BatchHardTripletLossDistanceFunction.cosine_distance
    )
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(1, 1, LabelKind.INT, loss.input_spec.description)
    assert loss.get_config_dict() == their_loss.get_config_dict() == {"distance_metric": "cosine_distance", "margin": 5}
    assert set(loss.config_keys) == set(their_loss.get_config_dict())
    assert loss.citation == their_loss.citation
    assert loss.sentence_embedder is ours
    assert loss.margin == their_loss.margin
    with pytest.raises(ValueError, match="expects 4 labels"):
        loss.compute_loss_from_embeddings([torch.randn(4, 3)], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="'label' column"):
        loss.compute_loss_from_embeddings([torch.randn(4, 3)], None)
