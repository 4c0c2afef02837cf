"""BinaryCrossEntropyLoss, CrossEntropyLoss and MSELoss against sentence-transformers 6.2: values, gradients, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ce_loss_parity import NEGATIVES, POSITIVES, QUERIES, assert_same_run, loss_and_grads, single_thread, spread_models

from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from embedforge.losses.base import LabelKind
from helpers import SameDtypeMSE

st_losses = pytest.importorskip("sentence_transformers.cross_encoder.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]  # the fixture, imported for this module

SOFT = torch.tensor([1.0, 0.0, 1.0, 0.25, 0.8])


@pytest.fixture(scope="module")
def models(_tiny_ce_session: Path) -> tuple:
    return spread_models(_tiny_ce_session)


@pytest.fixture(scope="module")
def models3(_tiny_ce3_session: Path) -> tuple:
    return spread_models(_tiny_ce3_session)


@pytest.mark.parametrize(
    ("labels", "options"),
    [
        (torch.tensor([1, 0, 1, 0, 0]), {}),
        (SOFT, {}),
        (SOFT.view(-1, 1), {"pos_weight": torch.tensor(4.0)}),
        (SOFT, {"activation_fn": torch.nn.Tanh(), "reduction": "sum"}),
    ],
)
def test_binary_cross_entropy_equals_sentence_transformers(models: tuple, labels: torch.Tensor, options: dict) -> None:
    ours, theirs = models
    mine = loss_and_grads(BinaryCrossEntropyLoss(ours, **options), ours, [QUERIES, POSITIVES], labels)
    reference = loss_and_grads(
        st_losses.BinaryCrossEntropyLoss(theirs, **options), theirs, [QUERIES, POSITIVES], labels
    )
    assert_same_run(mine, reference)


@pytest.mark.parametrize(
    ("labels", "options"),
    [
        (torch.tensor([0.3, -1.2, 2.5, 0.0, 1.1]), {}),
        (SOFT.view(-1, 1), {"activation_fn": torch.nn.Sigmoid()}),
        (SOFT, {"reduction": "sum"}),
    ],
)
def test_mse_equals_sentence_transformers(models: tuple, labels: torch.Tensor, options: dict) -> None:
    ours, theirs = models
    mine = loss_and_grads(MSELoss(ours, **options), ours, [QUERIES, POSITIVES], labels)
    reference = loss_and_grads(st_losses.MSELoss(theirs, **options), theirs, [QUERIES, POSITIVES], labels)
    assert_same_run(mine, reference)


@pytest.mark.parametrize(
    ("labels", "options"),
    [
        (torch.tensor([0, 2, 1, 1, 0]), {}),
        (torch.tensor([[0], [2], [1], [1], [0]]), {"label_smoothing": 0.1}),
        (torch.tensor([0, -100, 1, 2, 0]), {"weight": torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)}),
        (torch.softmax(torch.arange(15.0).view(5, 3) % 4, dim=1), {}),
        (torch.tensor([2, 2, 0, 1, 0]), {"activation_fn": torch.nn.LogSoftmax(dim=1)}),
    ],
)
def test_cross_entropy_equals_sentence_transformers(models3: tuple, labels: torch.Tensor, options: dict) -> None:
    ours, theirs = models3
    mine = loss_and_grads(CrossEntropyLoss(ours, **options), ours, [QUERIES, POSITIVES], labels)
    reference = loss_and_grads(st_losses.CrossEntropyLoss(theirs, **options), theirs, [QUERIES, POSITIVES], labels)
    assert_same_run(mine, reference)


def test_prompt_reaches_the_model(models: tuple) -> None:
    ours, theirs = models
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    with_prompt = loss_and_grads(BinaryCrossEntropyLoss(ours), ours, [QUERIES, NEGATIVES], labels, prompt="query: ")
    reference = loss_and_grads(
        st_losses.BinaryCrossEntropyLoss(theirs), theirs, [QUERIES, NEGATIVES], labels, prompt="query: "
    )
    assert_same_run(with_prompt, reference)
    without = loss_and_grads(BinaryCrossEntropyLoss(ours), ours, [QUERIES, NEGATIVES], labels)
    assert abs(with_prompt[0] - without[0]) > 1e-4


def test_config_dicts_specs_and_citations_match_sentence_transformers(models: tuple, models3: tuple) -> None:
    ours, theirs = models
    for options in ({}, {"pos_weight": torch.tensor(4.0), "activation_fn": torch.nn.Sigmoid()}):
        assert (
            BinaryCrossEntropyLoss(ours, **options).get_config_dict()
            == st_losses.BinaryCrossEntropyLoss(theirs, **options).get_config_dict()
        )
    assert MSELoss(ours).get_config_dict() == st_losses.MSELoss(theirs).get_config_dict()
    assert CrossEntropyLoss(models3[0]).get_config_dict() == {}
    assert BinaryCrossEntropyLoss(ours).get_config_dict()["activation_fn"] == "torch.nn.modules.linear.Identity"
    for loss in (BinaryCrossEntropyLoss(ours), MSELoss(ours), CrossEntropyLoss(models3[0])):
        assert loss.citation is None
        assert (loss.input_spec.min_texts, loss.input_spec.max_texts) == (2, 2)
    assert BinaryCrossEntropyLoss.input_spec.label is LabelKind.PROBABILITY
    assert MSELoss.input_spec.label is LabelKind.FLOAT
    assert CrossEntropyLoss.input_spec.label is LabelKind.INT


@pytest.mark.parametrize("loss_class", [BinaryCrossEntropyLoss, MSELoss, CrossEntropyLoss])
def test_wrong_columns_and_label_shapes_are_clear_errors(models: tuple, loss_class: type) -> None:
    loss = loss_class(models[0])
    name = loss_class.__name__
    labels = torch.tensor([1, 0, 0, 0, 0]) if loss_class is CrossEntropyLoss else SOFT
    with pytest.raises(ValueError, match=rf"{name} expects exactly 2 text columns .* got 3\. Keep only"):
        loss([QUERIES, POSITIVES, NEGATIVES], labels)
    with pytest.raises(ValueError, match="got 1"):
        loss([QUERIES], labels)
    with pytest.raises(ValueError, match="same length, got 5 and 4"):
        loss([QUERIES, POSITIVES[:4]], labels)
    with pytest.raises(ValueError, match=r"got none\. Add"):
        loss([QUERIES, POSITIVES], None)
    with pytest.raises(ValueError, match=r"expects .*5.* got labels of shape \(2, 5\)|got 10 with shape \(2, 5\)"):
        loss([QUERIES, POSITIVES], torch.zeros(2, 5, dtype=labels.dtype))
    with pytest.raises(ValueError, match="list"):
        loss([QUERIES, POSITIVES], list(labels))


def test_cross_entropy_label_errors(models3: tuple) -> None:
    loss = CrossEntropyLoss(models3[0])
    with pytest.raises(ValueError, match=r"num_labels=3 classes \(0 \.\. 2\), but the labels hold \[3, 7\]"):
        loss([QUERIES, POSITIVES], torch.tensor([0, 3, 1, 7, 2]))
    with pytest.raises(ValueError, match=r"float labels of shape \(5,\).*Cast the label column to int"):
        loss([QUERIES, POSITIVES], torch.tensor([0.0, 1.0, 2.0, 1.0, 0.0]))


@pytest.mark.parametrize("loss_class", [BinaryCrossEntropyLoss, MSELoss])
def test_one_label_losses_reject_a_three_label_model(models3: tuple, loss_class: type) -> None:
    with pytest.raises(ValueError, match=rf"{loss_class.__name__} expects a CrossEncoder with num_labels=1 .* got 3"):
        loss_class(models3[0])
    st_class = getattr(st_losses, loss_class.__name__)
    with pytest.raises(ValueError, match="1 output label"):
        st_class(models3[1])


@pytest.mark.parametrize("loss_class", [BinaryCrossEntropyLoss, MSELoss, CrossEntropyLoss])
def test_a_sentence_transformer_is_rejected(tiny_bert_path: Path, loss_class: type) -> None:
    from embedforge import SentenceTransformer

    with pytest.raises(ValueError, match=r"trains a CrossEncoder, got a SentenceTransformer\. Build the model"):
        loss_class(SentenceTransformer(str(tiny_bert_path), device="cpu"))


def test_binary_cross_entropy_takes_a_number_as_pos_weight(models: tuple) -> None:
    ours, _ = models
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0])
    inputs = [QUERIES[:4], POSITIVES[:4]]
    as_number = BinaryCrossEntropyLoss(ours, pos_weight=3.0)
    as_tensor = BinaryCrossEntropyLoss(ours, pos_weight=torch.tensor(3.0))
    torch.testing.assert_close(as_number(inputs, labels), as_tensor(inputs, labels))
    assert as_number.get_config_dict()["pos_weight"] == 3.0


def test_mse_gives_its_regression_loss_one_dtype(models: tuple) -> None:
    ours, _ = models  # float64 weights, float32 labels
    loss = MSELoss(ours)
    loss.loss_fct = SameDtypeMSE()
    value = loss([QUERIES, POSITIVES], SOFT)
    value.backward()
    assert value.dtype == torch.float64
    ours.zero_grad(set_to_none=True)
