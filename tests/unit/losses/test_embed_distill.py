"""EmbedDistillLoss: same value and gradients as sentence-transformers 6.2, reference formulas, training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from teacher_loss_helpers import read_rows, teacher_embeddings, train_two_steps, weights

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.embed_distill import EmbedDistillLoss
from embedforge.losses.functional.distillation import embedding_distance, teacher_embeddings_per_column

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

METRICS = ("mse", "l2", "cosine")


def _teacher(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


@pytest.mark.parametrize(
    ("metric", "num_columns", "label_shape"),
    [("mse", 1, (5, 32)), ("l2", 2, (5, 32)), ("cosine", 3, (5, 3, 32))],
    ids=["mse-single", "l2-broadcast", "cosine-per-column"],
)
def test_matches_sentence_transformers(
    model_pair: tuple,
    columns: list[list[str]],
    check_parity: Callable[..., float],
    metric: str,
    num_columns: int,
    label_shape: tuple[int, ...],
) -> None:
    ours, theirs = model_pair
    value = check_parity(
        EmbedDistillLoss(ours, distance_metric=metric),
        st_losses.EmbedDistillLoss(theirs, distance_metric=metric),
        columns[:num_columns],
        _teacher(*label_shape),
    )
    assert value > 0


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_matches_sentence_transformers_with_projection(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], metric: str
) -> None:
    ours, theirs = model_pair
    loss = EmbedDistillLoss(ours, distance_metric=metric, projection_dim=12)
    their_loss = st_losses.EmbedDistillLoss(theirs, distance_metric=metric, projection_dim=12)
    their_loss.projection.load_state_dict(loss.projection.state_dict())
    check_parity(loss, their_loss, columns[:2], _teacher(5, 2, 12))


def test_reference_formulas(model_pair: tuple) -> None:
    rng = np.random.default_rng(0)
    student = [rng.normal(size=(4, 6)).astype(np.float32) for _ in range(2)]
    teacher = rng.normal(size=(4, 2, 6)).astype(np.float32)

    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    expected = {
        "mse": np.mean([np.mean((s - teacher[:, c]) ** 2) for c, s in enumerate(student)]),
        "l2": np.mean([np.mean(np.sqrt(((s - teacher[:, c]) ** 2).sum(1))) for c, s in enumerate(student)]),
        "cosine": np.mean([np.mean(1 - cosine(s, teacher[:, c])) for c, s in enumerate(student)]),
    }
    for metric, value in expected.items():
        loss = EmbedDistillLoss(model_pair[0], distance_metric=metric)
        targets = teacher_embeddings_per_column(torch.from_numpy(teacher), 2)
        got = loss.compute_loss_from_embeddings([torch.from_numpy(s) for s in student], targets)
        assert got.item() == pytest.approx(float(value), abs=1e-6)


def test_label_shape_errors() -> None:
    with pytest.raises(ValueError, match="for 3 columns but the batch has 2"):
        teacher_embeddings_per_column(torch.zeros(4, 3, 8), 2)
    with pytest.raises(ValueError, match="got 1-D labels"):
        teacher_embeddings_per_column(torch.zeros(4), 1)
    with pytest.raises(ValueError, match="projection_dim=16"):
        embedding_distance(torch.zeros(4, 8), torch.zeros(4, 16), "mse")


def test_trains_with_per_column_teacher_embeddings_and_projection(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path
) -> None:
    rows = read_rows(shared_data / "stsb" / "train.csv", 16)
    first, second = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]
    teacher = SentenceTransformer(str(tiny_bert_path), device="cpu")
    rng = np.random.default_rng(0)
    lift = rng.normal(size=(32, 48)).astype(np.float32)  # a teacher of another dimension
    labels = np.stack([teacher_embeddings(teacher, first) @ lift, teacher_embeddings(teacher, second) @ lift], 1)
    dataset = Dataset.from_dict({"sentence1": first, "sentence2": second, "label": labels.tolist()})
    student = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = EmbedDistillLoss(student, distance_metric="l2", projection_dim=48)
    before = weights(loss.projection)
    train_two_steps(student, dataset, loss, tmp_path)
    assert not torch.equal(before["weight"], loss.projection.weight.detach())


def test_trainer_rejects_wrong_data_up_front(tiny_bert_path: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = EmbedDistillLoss(model)
    scores = Dataset.from_dict({"sentence": ["a man", "a dog"], "score": [0.5, 0.2]})
    with pytest.raises(DatasetValidationError, match="expects float_list labels"):
        SentenceTransformerTrainer(model=model, train_dataset=scores, loss=loss)
    unlabeled = Dataset.from_dict({"sentence": ["a man", "a dog"]})
    with pytest.raises(DatasetValidationError, match="no label column"):
        SentenceTransformerTrainer(model=model, train_dataset=unlabeled, loss=loss)
    only_labels = Dataset.from_dict({"label": [[0.1, 0.2], [0.3, 0.4]]})
    with pytest.raises(DatasetValidationError, match="0 input column"):
        SentenceTransformerTrainer(model=model, train_dataset=only_labels, loss=loss)
    assert not (tmp_path / "out").exists()


def test_projection_save_and_load(tiny_bert_path: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    trained = EmbedDistillLoss(model, projection_dim=8)
    path = tmp_path / "projection.safetensors"
    trained.save_projection(path)
    fresh = EmbedDistillLoss(model)
    fresh.load_projection(path)
    assert fresh.projection_dim == 8
    torch.testing.assert_close(fresh.projection.state_dict(), trained.projection.state_dict())
    with pytest.raises(ValueError, match="maps 32 -> 8 dimensions, but this loss's projection maps 32 -> 4"):
        EmbedDistillLoss(model, projection_dim=4).load_projection(path)
    with pytest.raises(ValueError, match="no projection to save"):
        fresh.__class__(model).save_projection(tmp_path / "none.safetensors")


def test_declarations_config_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = EmbedDistillLoss(ours, distance_metric="l2", projection_dim=10)
    their_loss = st_losses.EmbedDistillLoss(theirs, distance_metric="l2", projection_dim=10)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(1, None, LabelKind.FLOAT_LIST, loss.input_spec.description)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert set(loss.config_keys) == set(their_loss.get_config_dict())
    assert loss.citation == their_loss.citation
    assert EmbedDistillLoss(ours).distance_metric == "cosine"
    with pytest.raises(ValueError, match="distance_metric must be one of"):
        EmbedDistillLoss(ours, distance_metric="dot")
    with pytest.raises(ValueError, match="teacher embeddings as labels"):
        EmbedDistillLoss(ours)([ours.tokenize(["a man"])], None)
