"""DistillKLDivLoss: same value and gradients as sentence-transformers 6.2, reference formula, training."""

from __future__ import annotations

import logging
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
from embedforge.losses.distill_kl_div import DistillKLDivLoss
from embedforge.losses.functional import distillation
from embedforge.util import pairwise_cos_sim

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

TEACHER = torch.tensor([[9.0, 2.0, 4.0], [1.0, 3.5, 0.5], [5.0, 5.0, 1.0], [7.5, -1.0, 2.0], [0.0, 1.0, 2.0]])

CASES = [
    pytest.param(3, {}, id="triplets"),
    pytest.param(4, {}, id="two-negatives"),
    pytest.param(3, {"teacher_temperature": 0.5}, id="teacher-temperature"),
    pytest.param(4, {"temperature": 2.0, "student_temperature": 8.0, "teacher_temperature": 3.0}, id="all"),
    pytest.param(4, {"similarity_fct": "cos", "temperature": 0.05}, id="cosine"),
]


@pytest.mark.parametrize(("num_columns", "kwargs"), CASES)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], num_columns: int, kwargs: dict
) -> None:
    ours, theirs = model_pair
    our_kwargs, their_kwargs = dict(kwargs), dict(kwargs)
    if kwargs.get("similarity_fct") == "cos":
        our_kwargs["similarity_fct"], their_kwargs["similarity_fct"] = pairwise_cos_sim, st_util.pairwise_cos_sim
    loss, their_loss = DistillKLDivLoss(ours, **our_kwargs), st_losses.DistillKLDivLoss(theirs, **their_kwargs)
    value = check_parity(loss, their_loss, columns[:num_columns], TEACHER[:, : num_columns - 1])
    assert value > 0
    assert loss.get_config_dict() == their_loss.get_config_dict()


def test_reference_formula(model_pair: tuple) -> None:
    rng = np.random.default_rng(2)
    query, *documents = (rng.normal(size=(5, 4)).astype(np.float32) for _ in range(4))
    teacher = TEACHER.numpy().astype(np.float64)
    student_t, teacher_t = 1.5, 4.0
    student = np.stack([pairwise_dot(query, d) for d in documents], 1) / student_t
    log_q = student - np.log(np.exp(student).sum(1, keepdims=True))
    p = np.exp(teacher / teacher_t) / np.exp(teacher / teacher_t).sum(1, keepdims=True)
    expected = student_t**2 * np.sum(p * (np.log(p) - log_q)) / 5
    loss = DistillKLDivLoss(model_pair[0], student_temperature=student_t, teacher_temperature=teacher_t)
    value = loss.compute_loss_from_embeddings([torch.from_numpy(e) for e in (query, *documents)], TEACHER)
    assert value.item() == pytest.approx(float(expected), rel=1e-5)


def test_teacher_checks_run_once(model_pair: tuple, caplog: pytest.LogCaptureFixture) -> None:
    ours, _ = model_pair
    embeddings = [torch.randn(2, 4) for _ in range(3)]
    with pytest.raises(ValueError, match="teacher scores contain NaN"):
        DistillKLDivLoss(ours).compute_loss_from_embeddings(embeddings, torch.tensor([[1.0, float("nan")]] * 2))
    loss = DistillKLDivLoss(ours, teacher_temperature=0.01)
    with caplog.at_level(logging.WARNING, logger=distillation.__name__):
        loss.compute_loss_from_embeddings(embeddings, torch.tensor([[10.0, 0.0], [0.0, 1.0]]))
        loss.compute_loss_from_embeddings(embeddings, torch.tensor([[10.0, 0.0], [0.0, 1.0]]))
    assert caplog.text.count("underflows 1 of 4 teacher probabilities") == 1
    assert "Raise teacher_temperature above 0.1" in caplog.text


def test_shape_and_option_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    embeddings = [torch.randn(2, 4) for _ in range(3)]
    with pytest.raises(ValueError, match=r"\(batch_size, num_candidates\) = \(2, 2\), but got \(2, 3\)"):
        DistillKLDivLoss(ours).compute_loss_from_embeddings(embeddings, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="at least 3 text columns"):
        DistillKLDivLoss(ours).compute_loss_from_embeddings(embeddings[:2], torch.zeros(2, 1))
    with pytest.raises(ValueError, match="teacher's score for each candidate"):
        DistillKLDivLoss(ours).compute_loss_from_embeddings(embeddings, None)
    for kwargs in ({"temperature": 0.0}, {"student_temperature": -1.0}, {"teacher_temperature": float("inf")}):
        with pytest.raises(ValueError, match="must be a positive finite number"):
            st_losses.DistillKLDivLoss(theirs, **kwargs)
        with pytest.raises(ValueError, match="must be a positive finite number"):
            DistillKLDivLoss(ours, **kwargs)


def test_trains_with_teacher_scores(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    data = nli_triplets(shared_data)
    teacher = SentenceTransformer(str(tiny_bert_path), device="cpu")
    query, positive, negative = (teacher_embeddings(teacher, data[name]) for name in ("anchor", "positive", "negative"))
    labels = np.stack([pairwise_dot(query, positive) + 1.0, pairwise_dot(query, negative)], 1)
    student = SentenceTransformer(str(tiny_bert_path), device="cpu")
    dataset = Dataset.from_dict({**data, "label": labels.tolist()})
    train_two_steps(student, dataset, DistillKLDivLoss(student, temperature=10.0), tmp_path)


def test_trainer_rejects_wrong_data_up_front(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    margins = Dataset.from_dict({"q": ["a man"], "p": ["a person"], "n": ["a dog"], "label": [0.3]})
    with pytest.raises(DatasetValidationError, match="expects float_list labels"):
        SentenceTransformerTrainer(model=model, train_dataset=margins, loss=DistillKLDivLoss(model))
    pairs = Dataset.from_dict({"q": ["a man"], "p": ["a person"], "label": [[0.3]]})
    with pytest.raises(DatasetValidationError, match=r"2 input column\(s\).*at least 3"):
        SentenceTransformerTrainer(model=model, train_dataset=pairs, loss=DistillKLDivLoss(model))


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = DistillKLDivLoss(ours)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(3, None, LabelKind.FLOAT_LIST, loss.input_spec.description)
    assert loss.get_config_dict() == {"similarity_fct": "pairwise_dot_score", "temperature": 1.0}
    assert loss.get_config_dict() == st_losses.DistillKLDivLoss(theirs).get_config_dict()
    assert set(DistillKLDivLoss(ours, student_temperature=2.0, teacher_temperature=3.0).get_config_dict()) == set(
        loss.config_keys
    )
    assert loss.citation == st_losses.DistillKLDivLoss(theirs).citation
