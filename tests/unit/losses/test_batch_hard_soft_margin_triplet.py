"""BatchHardSoftMarginTripletLoss: equal to ST 6.2 and to the direct formula, trains, rejects bad data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from triplet_helpers import (
    BAD_LABELLED_SENTENCES,
    LABELS,
    SENTENCES,
    ExposedModel,
    assert_trainer_rejects,
    check_embedding_parity,
    distance_kwargs,
    euclidean_matrix,
    train_two_steps,
    trec_dataset,
)

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.batch_hard_soft_margin_triplet import BatchHardSoftMarginTripletLoss
from embedforge.losses.batch_hard_triplet import BatchHardTripletLoss, BatchHardTripletLossDistanceFunction
from embedforge.losses.functional import triplet as triplet_math
from embedforge.training_args import BatchSamplers

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

OPTIONS = [
    pytest.param({}, id="default"),
    pytest.param({"distance_metric": "cosine_distance"}, id="cosine"),
    pytest.param({"distance_metric": "squared"}, id="squared-euclidean"),
]


@pytest.fixture(scope="module")
def embeddings(model_pair: tuple) -> torch.Tensor:
    ours, _ = model_pair
    with torch.no_grad():
        return ours(ours.tokenize(SENTENCES))["sentence_embedding"]


def _losses(model_pair: tuple, kwargs: dict) -> tuple[BatchHardSoftMarginTripletLoss, torch.nn.Module]:
    ours, theirs = model_pair
    their_functions = st_losses.BatchHardTripletLossDistanceFunction
    their_loss = st_losses.BatchHardSoftMarginTripletLoss(theirs, **distance_kwargs(kwargs, their_functions))
    our_kwargs = distance_kwargs(kwargs, BatchHardTripletLossDistanceFunction)
    return BatchHardSoftMarginTripletLoss(ours, **our_kwargs), their_loss


@pytest.mark.parametrize("kwargs", OPTIONS)
def test_matches_sentence_transformers(model_pair: tuple, check_parity: Callable[..., float], kwargs: dict) -> None:
    our_loss, their_loss = _losses(model_pair, kwargs)
    check_parity(our_loss, ExposedModel(their_loss, their_loss.sentence_embedder), [SENTENCES], LABELS["uneven"])


@pytest.mark.parametrize("kwargs", OPTIONS)
@pytest.mark.parametrize("labels", list(LABELS))
def test_loss_of_embeddings_matches_sentence_transformers(
    model_pair: tuple, embeddings: torch.Tensor, labels: str, kwargs: dict
) -> None:
    check_embedding_parity(*_losses(model_pair, kwargs), embeddings, LABELS[labels])


def test_value_equals_direct_formula() -> None:
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(9, 4))
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 1])
    distances = euclidean_matrix(embeddings)
    terms = []
    for a in range(len(labels)):
        hardest_positive = max(distances[a, p] for p in range(9) if p != a and labels[p] == labels[a])
        hardest_negative = min(distances[a, n] for n in range(9) if labels[n] != labels[a])
        terms.append(np.log1p(np.exp(hardest_positive - hardest_negative)))
    value = triplet_math.batch_hard_soft_margin_triplet_loss(torch.tensor(embeddings), torch.tensor(labels))
    assert value.item() == pytest.approx(float(np.mean(terms)), abs=1e-10)


def test_trains_on_trec_with_group_by_label(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    losses = train_two_steps(
        model,
        trec_dataset(shared_data),
        BatchHardSoftMarginTripletLoss(model),
        tmp_path,
        batch_sampler=BatchSamplers.GROUP_BY_LABEL,
    )
    assert all(value > 0 for value in losses)


@pytest.mark.parametrize(("columns", "expected"), BAD_LABELLED_SENTENCES)
def test_trainer_rejects_wrong_shapes(tiny_bert_path: Path, tmp_path: Path, columns: dict, expected: str) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert_trainer_rejects(model, BatchHardSoftMarginTripletLoss(model), columns, expected, tmp_path)


def test_declarations_config_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = BatchHardSoftMarginTripletLoss(ours)
    their_loss = st_losses.BatchHardSoftMarginTripletLoss(theirs)
    assert isinstance(loss, BatchHardTripletLoss)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(1, 1, LabelKind.INT, loss.input_spec.description)
    assert loss.get_config_dict() == their_loss.get_config_dict() == {"distance_metric": "euclidean_distance"}
    assert set(loss.config_keys) == set(their_loss.get_config_dict())
    assert loss.citation == their_loss.citation
    assert loss.sentence_embedder is ours
    with pytest.raises(ValueError, match="expects 4 labels"):
        loss.compute_loss_from_embeddings([torch.randn(4, 3)], torch.tensor([[0, 1], [0, 1], [1, 1]]))
    with pytest.raises(ValueError, match="'label' column"):
        loss.compute_loss_from_embeddings([torch.randn(4, 3)], None)
