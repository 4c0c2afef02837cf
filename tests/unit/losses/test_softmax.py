"""SoftmaxLoss: same value and gradients (model and classifier) as sentence-transformers 6.2."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from embedforge.losses import InputSpec, LabelKind, Loss, SoftmaxLoss

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

PROBABILITIES = torch.tensor(
    [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]
)


def _pair(model_pair: tuple, **kwargs: object) -> tuple[SoftmaxLoss, nn.Module]:
    ours, theirs = model_pair
    loss = SoftmaxLoss(ours, 32, 3, **kwargs)
    their_loss = st_losses.SoftmaxLoss(theirs, 32, 3, **kwargs)
    their_loss.classifier.load_state_dict(loss.classifier.state_dict())
    return loss, their_loss


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"concatenation_sent_multiplication": True},
        {"concatenation_sent_rep": False, "concatenation_sent_multiplication": True},
        {"concatenation_sent_difference": False},
        {"loss_fct": nn.MultiMarginLoss()},
    ],
)
def test_matches_sentence_transformers_with_int_labels(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], kwargs: dict
) -> None:
    loss, their_loss = _pair(model_pair, **kwargs)
    check_parity(loss, their_loss, columns[:2], torch.tensor([0, 2, 1, 0, 2]))


def test_matches_sentence_transformers_with_probability_labels(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float]
) -> None:
    loss, their_loss = _pair(model_pair)
    check_parity(loss, their_loss, columns[:2], PROBABILITIES)


def test_old_keyword_and_parameter_names(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = SoftmaxLoss(ours, sentence_embedding_dimension=32, num_labels=3, concatenation_sent_multiplication=True)
    their_loss = st_losses.SoftmaxLoss(theirs, 32, 3, concatenation_sent_multiplication=True)
    assert loss.classifier.in_features == 4 * 32
    our_names = {name for name in loss.state_dict() if not name.startswith("model.")}
    their_names = {name for name in their_loss.state_dict() if not name.startswith("model.")}
    assert our_names == their_names == {"classifier.weight", "classifier.bias"}
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert loss.citation == their_loss.citation


def test_without_labels_returns_embeddings_and_logits(model_pair: tuple, columns: list[list[str]]) -> None:
    ours, _ = model_pair
    loss = SoftmaxLoss(ours, 32, 3)
    with torch.no_grad():
        embeddings, logits = loss([ours.tokenize(columns[0]), ours.tokenize(columns[1])], None)
    assert [tuple(e.shape) for e in embeddings] == [(5, 32), (5, 32)]
    assert logits.shape == (5, 3)


def test_declarations_and_errors(model_pair: tuple) -> None:
    ours, _ = model_pair
    loss = SoftmaxLoss(ours, 32, 3)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.INT_OR_FLOAT_LIST, loss.input_spec.description)
    assert "probabilities" in loss.input_spec.description
    with pytest.raises(ValueError, match="at least one of"):
        SoftmaxLoss(ours, 32, 3, concatenation_sent_rep=False, concatenation_sent_difference=False)


def test_probability_labels_pass_validation(tiny_bert_path) -> None:
    from datasets import Dataset

    from embedforge import SentenceTransformer
    from embedforge.data.validation import DatasetValidationError, validate_datasets
    from embedforge.losses import SoftmaxLoss

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = SoftmaxLoss(model, embedding_dimension=32, num_labels=3)
    soft = Dataset.from_dict({"a": ["a man"], "b": ["a dog"], "label": [[0.2, 0.5, 0.3]]})
    validate_datasets({"train": soft}, {"train": loss})
    text_labels = Dataset.from_dict({"a": ["a man"], "b": ["a dog"], "label": ["entailment"]})
    with pytest.raises(DatasetValidationError, match="int_or_float_list"):
        validate_datasets({"train": text_labels}, {"train": loss})
