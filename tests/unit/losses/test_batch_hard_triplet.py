"""BatchHardTripletLoss: equal to sentence-transformers 6.2, to the direct formula, trains, rejects bad data."""

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
    distance_kwargs,
    euclidean_matrix,
    train_two_steps,
    trec_dataset,
)

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.batch_hard_triplet import BatchHardTripletLoss, BatchHardTripletLossDistanceFunction
from embedforge.losses.functional import triplet as triplet_math
from embedforge.training_args import BatchSamplers

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")


@pytest.fixture(scope="module")
def embeddings(model_pair: tuple) -> torch.Tensor:
    ours, _ = model_pair
    with torch.no_grad():
        return ours(ours.tokenize(SENTENCES))["sentence_embedding"]


def _losses(model_pair: tuple, kwargs: dict) -> tuple[BatchHardTripletLoss, torch.nn.Module]:
    ours, theirs = model_pair
    their_functions = st_losses.BatchHardTripletLossDistanceFunction
    their_loss = st_losses.BatchHardTripletLoss(theirs, **distance_kwargs(kwargs, their_functions))
    return BatchHardTripletLoss(ours, **distance_kwargs(kwargs, BatchHardTripletLossDistanceFunction)), their_loss


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


def _reference(embeddings: np.ndarray, labels: np.ndarray, margin: float) -> float:
    distances = euclidean_matrix(embeddings)
    terms = []
    for a in range(len(labels)):
        positives = [distances[a, p] for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        negatives = [distances[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        terms.append(max(max(positives, default=0.0) - min(negatives) + margin, 0.0))
    return float(np.mean(terms))


@pytest.mark.parametrize("margin", [5.0, 0.8, 0.0])
def test_value_equals_direct_formula(margin: float) -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(9, 4))
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])  # the last anchor has no positive
    value = triplet_math.batch_hard_triplet_loss(torch.tensor(embeddings), torch.tensor(labels), margin=margin)
    assert value.item() == pytest.approx(_reference(embeddings, labels, margin), abs=1e-10)


def test_gradient_equals_autograd_of_direct_formula() -> None:
    torch.manual_seed(0)
    embeddings = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1])
    triplet_math.batch_hard_triplet_loss(embeddings, labels, margin=2.0).backward()
    ours = embeddings.grad.clone()
    embeddings.grad = None
    terms = []
    for a in range(8):
        distance = [torch.linalg.vector_norm(embeddings[a] - embeddings[j]) for j in range(8)]
        hardest_positive = max(distance[p] for p in range(8) if p != a and labels[p] == labels[a])
        hardest_negative = min(distance[n] for n in range(8) if labels[n] != labels[a])
        terms.append(torch.relu(hardest_positive - hardest_negative + 2.0))
    torch.stack(terms).mean().backward()
    torch.testing.assert_close(ours, embeddings.grad, atol=1e-10, rtol=0)


def test_distance_functions_equal_sentence_transformers_including_half_precision() -> None:
    theirs = st_losses.BatchHardTripletLossDistanceFunction
    embeddings = torch.randn(6, 8)
    for dtype in (torch.float32, torch.float16):
        batch = embeddings.to(dtype)
        torch.testing.assert_close(
            BatchHardTripletLossDistanceFunction.euclidean_distance(batch), theirs.euclidean_distance(batch)
        )
        torch.testing.assert_close(
            BatchHardTripletLossDistanceFunction.eucledian_distance(batch, squared=True),
            theirs.euclidean_distance(batch, squared=True),
        )
    assert BatchHardTripletLossDistanceFunction.euclidean_distance(embeddings.half()).dtype == torch.float32
    assert torch.equal(BatchHardTripletLossDistanceFunction.euclidean_distance(embeddings).diagonal(), torch.zeros(6))
    torch.testing.assert_close(
        BatchHardTripletLossDistanceFunction.cosine_distance(embeddings), theirs.cosine_distance(embeddings)
    )


def test_masks_equal_sentence_transformers() -> None:
    labels = LABELS["uneven"]
    theirs = st_losses.BatchHardTripletLoss
    for name in ("get_triplet_mask", "get_anchor_positive_triplet_mask", "get_anchor_negative_triplet_mask"):
        assert torch.equal(getattr(BatchHardTripletLoss, name)(labels), getattr(theirs, name)(labels))


def test_trains_on_trec_with_group_by_label(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    losses = train_two_steps(
        model,
        trec_dataset(shared_data),
        BatchHardTripletLoss(model, margin=1.0),
        tmp_path,
        batch_sampler=BatchSamplers.GROUP_BY_LABEL,
    )
    assert all(value > 0 for value in losses)


@pytest.mark.parametrize(("columns", "expected"), BAD_LABELLED_SENTENCES)
def test_trainer_rejects_wrong_shapes(tiny_bert_path: Path, tmp_path: Path, columns: dict, expected: str) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert_trainer_rejects(model, BatchHardTripletLoss(model), columns, expected, tmp_path)


def test_declarations_config_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = BatchHardTripletLoss(ours, distance_metric=BatchHardTripletLossDistanceFunction.cosine_distance, margin=2)
    their_loss = st_losses.BatchHardTripletLoss(
        theirs, distance_metric=st_losses.BatchHardTripletLossDistanceFunction.cosine_distance, margin=2
    )
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(1, 1, LabelKind.INT, loss.input_spec.description)
    assert loss.get_config_dict() == their_loss.get_config_dict() == {"distance_metric": "cosine_distance", "margin": 2}
    assert set(loss.config_keys) == set(their_loss.get_config_dict())
    assert loss.citation == their_loss.citation
    assert loss.sentence_embedder is ours
    assert loss.triplet_margin == their_loss.triplet_margin
    assert BatchHardTripletLoss(ours).get_config_dict() == st_losses.BatchHardTripletLoss(theirs).get_config_dict()
    with pytest.raises(ValueError, match="expects 4 labels"):
        loss.compute_loss_from_embeddings([torch.randn(4, 3)], torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="'label' column"):
        loss.compute_loss_from_embeddings([torch.randn(4, 3)], None)


@pytest.mark.parametrize(
    "loss_fct",
    [
        triplet_math.batch_hard_triplet_loss,
        triplet_math.batch_all_triplet_loss,
        triplet_math.batch_semi_hard_triplet_loss,
        triplet_math.batch_hard_soft_margin_triplet_loss,
    ],
)
def test_batch_losses_compute_half_precision_distances_in_float32(loss_fct: Callable[..., torch.Tensor]) -> None:
    embeddings = torch.randn(10, 16).to(torch.bfloat16)
    labels = LABELS["uneven"]
    value = loss_fct(embeddings, labels, triplet_math.cosine_distance_matrix)
    upcast = loss_fct(embeddings, labels, lambda e: triplet_math.cosine_distance_matrix(e).float())
    assert value.dtype == torch.float32
    assert value.item() == upcast.item()
