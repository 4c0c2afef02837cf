"""MSELoss: same value and gradients as sentence-transformers 6.2, reference formula, multilingual training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from teacher_loss_helpers import read_rows, teacher_embeddings, train_two_steps

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import InputSpec, LabelKind
from embedforge.losses.embed_distill import EmbedDistillLoss
from embedforge.losses.mse import MSELoss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")


def _teacher(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize(
    ("num_columns", "label_shape"),
    [(2, (5, 32)), (2, (5, 2, 32))],
    ids=["shared", "per-column"],
)
def test_matches_sentence_transformers(
    model_pair: tuple,
    columns: list[list[str]],
    check_parity: Callable[..., float],
    num_columns: int,
    label_shape: tuple[int, ...],
) -> None:
    ours, theirs = model_pair
    check_parity(MSELoss(ours), st_losses.MSELoss(theirs), columns[:num_columns], _teacher(*label_shape))


def test_matches_sentence_transformers_with_projection(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float]
) -> None:
    ours, theirs = model_pair
    loss, their_loss = MSELoss(ours, projection_dim=20), st_losses.MSELoss(theirs, projection_dim=20)
    their_loss.projection.load_state_dict(loss.projection.state_dict())
    check_parity(loss, their_loss, columns[:2], _teacher(5, 20))


def test_reference_formula_with_shared_target(model_pair: tuple) -> None:
    ours, _ = model_pair
    english = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]], dtype=np.float32)
    german = np.array([[0.0, 2.0, 1.0], [1.5, -1.0, 2.0]], dtype=np.float32)
    teacher = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 2.0]], dtype=np.float32)
    expected = (((english - teacher) ** 2).sum() / 6 + ((german - teacher) ** 2).sum() / 6) / 2
    loss = MSELoss(ours)
    targets = [torch.from_numpy(teacher)] * 2
    value = loss.compute_loss_from_embeddings([torch.from_numpy(english), torch.from_numpy(german)], targets)
    assert value.item() == pytest.approx(float(expected), abs=1e-6)


def test_trains_a_multilingual_student(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    rows = read_rows(shared_data / "parallel-xnli" / "en-de.tsv.gz", 16, delimiter="\t")
    english, german = [r["english"] for r in rows], [r["non_english"] for r in rows]
    teacher = SentenceTransformer(str(tiny_bert_path), device="cpu")
    labels = teacher_embeddings(teacher, english)
    dataset = Dataset.from_dict({"english": english, "non_english": german, "label": labels.tolist()})
    student = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_two_steps(student, dataset, MSELoss(student), tmp_path)


def test_trainer_rejects_wrong_data_up_front(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    only_labels = Dataset.from_dict({"label": [[0.1, 0.2], [0.3, 0.4]]})
    with pytest.raises(DatasetValidationError, match="0 input column"):
        SentenceTransformerTrainer(model=model, train_dataset=only_labels, loss=MSELoss(model))
    class_labels = Dataset.from_dict({"english": ["a man"], "non_english": ["ein Mann"], "label": [1]})
    with pytest.raises(DatasetValidationError, match="dtype int64, but the loss expects float_list"):
        SentenceTransformerTrainer(model=model, train_dataset=class_labels, loss=MSELoss(model))


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = MSELoss(ours)
    assert isinstance(loss, EmbedDistillLoss)
    assert loss.distance_metric == "mse"
    assert loss.input_spec == InputSpec(1, None, LabelKind.FLOAT_LIST, loss.input_spec.description)
    assert loss.get_config_dict() == st_losses.MSELoss(theirs).get_config_dict() == {"projection_dim": None}
    assert set(loss.config_keys) == set(loss.get_config_dict())
    assert loss.citation == st_losses.MSELoss(theirs).citation
