"""MarginMSELoss: both label layouts match sentence-transformers 6.2 and a reference formula; training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from teacher_loss_helpers import nli_triplets, pairwise_dot, teacher_embeddings, train_two_steps

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.functional.distillation import teacher_margins
from embedforge.losses.margin_mse import MarginMSELoss
from embedforge.util import pairwise_cos_sim

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

RAW_SCORES = torch.tensor([[9.0, 2.0, 4.0], [1.0, 3.5, 0.5], [5.0, 5.0, 1.0], [7.5, -1.0, 2.0], [0.0, 1.0, 2.0]]) / 10
MARGINS = RAW_SCORES[:, :1] - RAW_SCORES[:, 1:]

CASES = [
    pytest.param(3, MARGINS[:, 0], id="triplet-margin"),
    pytest.param(3, RAW_SCORES[:, :2], id="triplet-raw-scores"),
    pytest.param(4, MARGINS, id="two-negatives-margins"),
    pytest.param(4, RAW_SCORES, id="two-negatives-raw-scores"),
]


@pytest.mark.parametrize(("num_columns", "labels"), CASES)
def test_matches_sentence_transformers(
    model_pair: tuple,
    columns: list[list[str]],
    check_parity: Callable[..., float],
    num_columns: int,
    labels: torch.Tensor,
) -> None:
    ours, theirs = model_pair
    value = check_parity(MarginMSELoss(ours), st_losses.MarginMSELoss(theirs), columns[:num_columns], labels)
    assert value > 0


def test_matches_sentence_transformers_with_cosine(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float]
) -> None:
    ours, theirs = model_pair
    check_parity(
        MarginMSELoss(ours, similarity_fct=pairwise_cos_sim),
        st_losses.MarginMSELoss(theirs, similarity_fct=st_util.pairwise_cos_sim),
        columns[:4],
        RAW_SCORES,
    )


def test_layouts_give_the_same_value_and_reference_formula(model_pair: tuple) -> None:
    ours, _ = model_pair
    rng = np.random.default_rng(1)
    query, positive, neg1, neg2 = (rng.normal(size=(5, 6)).astype(np.float32) for _ in range(4))
    scores = RAW_SCORES.numpy()
    student_margins = np.stack([pairwise_dot(query, positive) - pairwise_dot(query, n) for n in (neg1, neg2)], 1)
    expected = np.mean((student_margins - (scores[:, :1] - scores[:, 1:])) ** 2)
    embeddings = [torch.from_numpy(e) for e in (query, positive, neg1, neg2)]
    loss = MarginMSELoss(ours)
    from_raw = loss.compute_loss_from_embeddings(embeddings, RAW_SCORES)
    from_margins = loss.compute_loss_from_embeddings(embeddings, MARGINS)
    assert from_raw.item() == pytest.approx(float(expected), rel=1e-6)
    assert from_margins.item() == pytest.approx(float(expected), rel=1e-6)


def test_label_layouts_and_shape_errors(model_pair: tuple) -> None:
    ours, _ = model_pair
    column = teacher_margins(MARGINS[:, :1], 5, 1)
    assert torch.equal(column, teacher_margins(MARGINS[:, 0], 5, 1))
    assert torch.equal(column, teacher_margins(RAW_SCORES[:, :2], 5, 1))
    with pytest.raises(ValueError, match=r"fit neither layout.*\(5, 2\).*\(5, 3\)"):
        teacher_margins(torch.zeros(5, 4), 5, 2)
    embeddings = [torch.randn(5, 4) for _ in range(3)]
    with pytest.raises(ValueError, match="teacher's margins or scores"):
        MarginMSELoss(ours).compute_loss_from_embeddings(embeddings, None)
    with pytest.raises(ValueError, match="at least 3 text columns"):
        MarginMSELoss(ours).compute_loss_from_embeddings(embeddings[:2], torch.zeros(5))


@pytest.mark.parametrize("layout", ["margins", "raw-scores"])
def test_trains_with_teacher_labels(tiny_bert_path: Path, shared_data: Path, tmp_path: Path, layout: str) -> None:
    data = nli_triplets(shared_data)
    teacher = SentenceTransformer(str(tiny_bert_path), device="cpu")
    query, positive, negative = (teacher_embeddings(teacher, data[name]) for name in ("anchor", "positive", "negative"))
    positive_scores, negative_scores = pairwise_dot(query, positive) + 1.0, pairwise_dot(query, negative)
    if layout == "margins":
        labels = (positive_scores - negative_scores).tolist()
    else:
        labels = np.stack([positive_scores, negative_scores], 1).tolist()
    student = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_two_steps(student, Dataset.from_dict({**data, "label": labels}), MarginMSELoss(student), tmp_path)


def test_trainer_rejects_wrong_data_up_front(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    pairs = Dataset.from_dict({"query": ["a man"], "passage": ["a person"], "label": [0.3]})
    with pytest.raises(DatasetValidationError, match=r"2 input column\(s\).*at least 3"):
        SentenceTransformerTrainer(model=model, train_dataset=pairs, loss=MarginMSELoss(model))


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = MarginMSELoss(ours)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(3, None, LabelKind.FLOAT_OR_FLOAT_LIST, loss.input_spec.description)
    assert loss.get_config_dict() == st_losses.MarginMSELoss(theirs).get_config_dict()
    assert loss.get_config_dict() == {"similarity_fct": "pairwise_dot_score"}
    assert set(loss.config_keys) == set(loss.get_config_dict())
    assert loss.citation == st_losses.MarginMSELoss(theirs).citation


def test_missing_label_is_rejected_up_front(tiny_bert_path) -> None:
    from datasets import Dataset

    from embedforge import SentenceTransformer
    from embedforge.data.validation import DatasetValidationError, validate_datasets
    from embedforge.losses import MarginMSELoss

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    unlabeled = Dataset.from_dict({"q": ["a man"], "p": ["a woman"], "n": ["a dog"]})
    with pytest.raises(DatasetValidationError, match="no label column"):
        validate_datasets({"train": unlabeled}, {"train": MarginMSELoss(model)})
