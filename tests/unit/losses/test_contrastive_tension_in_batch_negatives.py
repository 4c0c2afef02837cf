"""ContrastiveTensionLossInBatchNegatives: equal to sentence-transformers 6.2 (both encoders and the learned scale),
to the direct symmetric cross-entropy; trains on single sentences and on the documentation's (s, s) pairs (first
column read, as in sentence-transformers); rejects wrong data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import check_two_encoder_parity, stsb_sentences
from datasets import Dataset
from triplet_helpers import assert_trainer_rejects, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.contrastive_tension_in_batch_negatives import ContrastiveTensionLossInBatchNegatives
from embedforge.util import dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")


@pytest.mark.parametrize(("scale", "dot"), [(20.0, False), (0.5, True)], ids=["cosine", "dot"])
def test_matches_sentence_transformers(model_pair: tuple, columns: list[list[str]], scale: float, dot: bool) -> None:
    ours, theirs = model_pair
    our_loss = ContrastiveTensionLossInBatchNegatives(ours, scale, *([dot_score] if dot else []))
    their_loss = st_losses.ContrastiveTensionLossInBatchNegatives(theirs, scale, *([st_util.dot_score] if dot else []))
    value = check_two_encoder_parity(our_loss, their_loss, model_pair, columns[:1])
    assert value > 0
    assert our_loss.logit_scale.grad is not None


def _cross_entropy_of_diagonal(logits: np.ndarray) -> float:
    log_partition = np.log(np.exp(logits).sum(axis=1))
    return float(np.mean(log_partition - np.diag(logits)))


def test_value_equals_direct_formula() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = 3.0 * unit_a @ unit_b.T
    expected = (_cross_entropy_of_diagonal(logits) + _cross_entropy_of_diagonal(logits.T)) / 2
    loss = ContrastiveTensionLossInBatchNegatives(torch.nn.Linear(1, 1), scale=3.0)
    assert loss.scale == pytest.approx(3.0, rel=1e-6)
    value = loss.compute_loss_from_embeddings([torch.tensor(a), torch.tensor(b)])
    assert value.item() == pytest.approx(expected, rel=1e-6)  # exp(log 3) in float32


def test_trains_on_single_sentences(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = ContrastiveTensionLossInBatchNegatives(model)
    assert loss.model2 is model
    copy_before = [p.detach().clone() for p in loss.model1.parameters()]
    train_two_steps(model, Dataset.from_dict({"sentence": stsb_sentences(shared_data, 16)}), loss, tmp_path)
    assert loss.scale != pytest.approx(20.0, abs=1e-6)
    assert any(not torch.equal(b, a) for b, a in zip(copy_before, loss.model1.parameters(), strict=True))


@pytest.mark.parametrize("second", ["same", "other"])
def test_pairs_read_the_first_column_as_sentence_transformers_does(
    model_pair: tuple, columns: list[list[str]], second: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The documentation's CT scripts pass (s, s) pairs; ST reads column 0 only, and so does this loss."""
    ours, theirs = model_pair
    pair = [columns[0], columns[0] if second == "same" else columns[1]]
    our_loss = ContrastiveTensionLossInBatchNegatives(ours)
    their_loss = st_losses.ContrastiveTensionLossInBatchNegatives(theirs)
    with caplog.at_level("WARNING", logger="embedforge.losses.contrastive_tension_in_batch_negatives"):
        value = check_two_encoder_parity(our_loss, their_loss, model_pair, pair)
        single = ContrastiveTensionLossInBatchNegatives(ours)([ours.tokenize(columns[0])]).item()
        our_loss([ours.tokenize(c) for c in pair])  # warns at most once per loss
    assert value == pytest.approx(single, abs=1e-6)  # the copy in both losses equals the model: same value
    warnings = [record for record in caplog.records if "reads only the first text column" in record.message]
    assert len(warnings) == (0 if second == "same" else 1)


def test_trains_on_the_documented_sentence_pairs(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """``train_askubuntu_ct-improved.py``'s data: ``{"sentence1": s, "sentence2": s}`` rows through the trainer."""
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = ContrastiveTensionLossInBatchNegatives(model)
    sentences = stsb_sentences(shared_data, 16)
    losses = train_two_steps(model, Dataset.from_dict({"sentence1": sentences, "sentence2": sentences}), loss, tmp_path)
    assert losses and all(value > 0 for value in losses)
    assert loss.scale != pytest.approx(20.0, abs=1e-6)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "c": ["x", "y"]}, "3 input column", id="three-texts"),
        pytest.param({"a": ["x", "y"], "label": [0, 1]}, "takes no labels", id="label"),
    ],
)
def test_trainer_rejects_wrong_data(model_pair: tuple, tmp_path: Path, columns: dict, expected: str) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, ContrastiveTensionLossInBatchNegatives(ours), columns, expected, tmp_path)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = ContrastiveTensionLossInBatchNegatives(ours, scale=5.0, similarity_fct=dot_score)
    their_loss = st_losses.ContrastiveTensionLossInBatchNegatives(theirs, 5.0, st_util.dot_score)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert loss.citation == their_loss.citation
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(1, 2, LabelKind.NONE, loss.input_spec.description)
    with pytest.raises(ValueError, match="expects 1 text column"):
        loss([ours.tokenize(["a"]), ours.tokenize(["b"]), ours.tokenize(["c"])])
