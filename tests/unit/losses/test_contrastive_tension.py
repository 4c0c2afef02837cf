"""ContrastiveTensionLoss: equal to sentence-transformers 6.2 (labels given or derived), to the direct formula;
trains both encoders; rejects wrong data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import check_two_encoder_parity, stsb_sentences
from datasets import Dataset
from triplet_helpers import assert_trainer_rejects, train_two_steps

from embedforge import SentenceTransformer
from embedforge.data.validation import check_dataset
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.contrastive_tension import ContrastiveTensionLoss, identical_texts
from embedforge.losses.contrastive_tension_data_loader import ContrastiveTensionDataLoader

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

FIRST = ["a man is playing a guitar", "a woman eats", "the quick brown fox jumps over the lazy dog", "a dog", "why"]
SECOND = [
    "a man is playing a guitar",
    "a person plays music",
    "the quick brown fox jumps over the lazy dog",
    "two children are playing in the park near the water",
    "why",
]
"""Rows 0, 2 and 4 are identical texts (padded to different widths in the two columns)."""


@pytest.mark.parametrize(
    "labels",
    [None, torch.tensor([1, 0, 1, 0, 1]), torch.tensor([[0.0], [1.0], [1.0], [0.0], [0.0]])],
    ids=["derived", "given", "given-float-column"],
)
def test_matches_sentence_transformers(model_pair: tuple, labels: torch.Tensor | None) -> None:
    ours, theirs = model_pair
    value = check_two_encoder_parity(
        ContrastiveTensionLoss(ours), st_losses.ContrastiveTensionLoss(theirs), model_pair, [FIRST, SECOND], labels
    )
    assert value > 0


def test_labels_are_derived_from_tokens_ignoring_padding(model_pair: tuple) -> None:
    ours, _ = model_pair
    first, second = ours.tokenize(FIRST), ours.tokenize(SECOND)
    assert first["input_ids"].shape != second["input_ids"].shape
    assert identical_texts(first, second).tolist() == [True, False, True, False, True]
    unmasked = [{"input_ids": f["input_ids"]} for f in (first, first)]
    assert identical_texts(*unmasked).all()
    assert not identical_texts({"input_ids": first["input_ids"]}, {"input_ids": second["input_ids"]}).any()


def test_value_equals_direct_formula() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    labels = np.array([1, 0, 0, 1, 0, 0])
    logits = (a * b).sum(axis=1)
    probabilities = 1 / (1 + np.exp(-logits))
    expected = -np.sum(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
    loss = ContrastiveTensionLoss(torch.nn.Linear(1, 1))
    value = loss.compute_loss_from_embeddings([torch.tensor(a), torch.tensor(b)], torch.tensor(labels))
    assert value.item() == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="needs the 1/0 labels"):
        loss.compute_loss_from_embeddings([torch.tensor(a), torch.tensor(b)], None)


def test_keeps_a_copy_and_trains_the_model_itself(model_pair: tuple) -> None:
    ours, _ = model_pair
    loss = ContrastiveTensionLoss(ours)
    assert loss.model2 is ours
    assert loss.model1 is not ours
    for copied, original in zip(loss.model1.parameters(), ours.parameters(), strict=True):
        assert copied is not original
        assert torch.equal(copied, original)


def test_trains_on_contrastive_tension_pairs(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    """Pairs from ContrastiveTensionDataLoader, without their label column: the loss derives the labels."""
    loader = ContrastiveTensionDataLoader(stsb_sentences(shared_data), batch_size=8, pos_neg_ratio=4)
    examples = [example for batch in loader for example in batch]
    columns = {"sentence_A": [e.texts[0] for e in examples], "sentence_B": [e.texts[1] for e in examples]}
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = ContrastiveTensionLoss(model)
    copy_before = [p.detach().clone() for p in loss.model1.parameters()]
    train_two_steps(model, Dataset.from_dict(columns), loss, tmp_path)
    assert any(not torch.equal(b, a) for b, a in zip(copy_before, loss.model1.parameters(), strict=True))


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": ["x", "y"]}, "1 input column", id="one-text"),
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "c": ["x", "y"]}, "3 input column", id="three-texts"),
    ],
)
def test_trainer_rejects_wrong_data(model_pair: tuple, tmp_path: Path, columns: dict, expected: str) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, ContrastiveTensionLoss(ours), columns, expected, tmp_path)


def test_declarations_and_config(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = ContrastiveTensionLoss(ours)
    their_loss = st_losses.ContrastiveTensionLoss(theirs)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.OPTIONAL, loss.input_spec.description)
    assert loss.get_config_dict() == their_loss.get_config_dict() == {}
    assert loss.citation == their_loss.citation
    labelled = Dataset.from_dict({"a": ["x", "y"], "b": ["x", "z"], "label": [1, 0]})
    assert check_dataset("train", labelled, loss) == []
    assert check_dataset("train", labelled.remove_columns("label"), loss) == []
