"""MarginMSELoss against sentence-transformers 6.2: both label layouts, several negatives, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ce_loss_parity import (
    NEGATIVES,
    NEGATIVES_2,
    POSITIVES,
    QUERIES,
    assert_same_run,
    loss_and_grads,
    single_thread,
    spread_models,
)

from embedforge.cross_encoder.losses import MarginMSELoss
from embedforge.losses.base import LabelKind
from helpers import SameDtypeMSE

st_losses = pytest.importorskip("sentence_transformers.cross_encoder.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]  # the fixture, imported for this module

TEACHER = torch.tensor([[2.0, 0.5, -1.0], [1.0, 1.5, 0.0], [3.0, -2.0, 0.5], [0.2, 0.1, 0.3], [-1.0, -3.0, -2.0]])
"""Teacher scores ``[M(q, p), M(q, n_1), M(q, n_2)]`` per row."""
MARGINS = TEACHER[:, :1] - TEACHER[:, 1:]


@pytest.fixture(scope="module")
def models(_tiny_ce_session: Path) -> tuple:
    return spread_models(_tiny_ce_session)


@pytest.mark.parametrize(
    ("columns", "labels", "options"),
    [
        (3, MARGINS[:, 0], {}),
        (3, MARGINS[:, :1], {}),
        (3, TEACHER[:, :2], {}),
        (4, MARGINS, {"activation_fn": torch.nn.Sigmoid()}),
        (4, TEACHER, {"reduction": "sum"}),
        (4, list(TEACHER), {}),
    ],
)
def test_margin_mse_equals_sentence_transformers(models: tuple, columns: int, labels: object, options: dict) -> None:
    ours, theirs = models
    inputs = [QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2][:columns]
    mine = loss_and_grads(MarginMSELoss(ours, **options), ours, inputs, labels, prompt="q: ")
    reference = loss_and_grads(st_losses.MarginMSELoss(theirs, **options), theirs, inputs, labels, prompt="q: ")
    assert_same_run(mine, reference)


@pytest.mark.parametrize("columns", [3, 4])
def test_margins_and_teacher_scores_give_the_same_loss(models: tuple, columns: int) -> None:
    ours, _ = models
    inputs = [QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2][:columns]
    loss = MarginMSELoss(ours)
    from_scores = loss_and_grads(loss, ours, inputs, TEACHER[:, : columns - 1])
    from_margins = loss_and_grads(loss, ours, inputs, MARGINS[:, : columns - 2])
    from_rows = loss_and_grads(loss, ours, inputs, [row[: columns - 1] for row in TEACHER])
    assert_same_run(from_margins, from_scores, atol=1e-6)
    assert_same_run(from_rows, from_scores, atol=1e-6)
    if columns == 3:
        assert_same_run(loss_and_grads(loss, ours, inputs, MARGINS[:, 0]), from_scores, atol=1e-6)


def test_the_loss_is_the_mean_squared_margin_error(models: tuple) -> None:
    ours, _ = models
    inputs = [QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2]
    with torch.no_grad():
        value = MarginMSELoss(ours)(inputs, TEACHER)
        scores = torch.stack(
            [
                ours.predict(
                    list(zip(QUERIES, column, strict=True)), activation_fn=torch.nn.Identity(), convert_to_tensor=True
                )
                for column in inputs[1:]
            ],
            dim=1,
        )
    expected = ((scores[:, :1] - scores[:, 1:]) - MARGINS).pow(2).mean()
    assert value.item() == pytest.approx(expected.item(), abs=1e-6)
    assert value.item() > 0.01


def test_label_and_column_errors(models: tuple) -> None:
    loss = MarginMSELoss(models[0])
    with pytest.raises(ValueError, match=r"at least 3 text columns .* got 2\. .*use MSELoss"):
        loss([QUERIES, POSITIVES], MARGINS[:, 0])
    with pytest.raises(ValueError, match=r"got none; add them"):
        loss([QUERIES, POSITIVES, NEGATIVES], None)
    with pytest.raises(ValueError, match=r"Labels of shape \(5, 4\) fit neither layout .* shape \(5, 2\)"):
        loss([QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2], torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"Labels of shape \(5, 1\) fit neither layout"):
        loss([QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2], MARGINS[:, 0])


def test_config_spec_citation_and_model_checks(models: tuple, tiny_ce3_path: Path, tiny_bert_path: Path) -> None:
    from embedforge import SentenceTransformer
    from embedforge.cross_encoder import CrossEncoder

    ours, theirs = models
    for options in ({}, {"activation_fn": torch.nn.Sigmoid()}):
        expected = st_losses.MarginMSELoss(theirs, **options).get_config_dict()
        assert MarginMSELoss(ours, **options).get_config_dict() == expected
    assert MarginMSELoss(ours).citation == st_losses.MarginMSELoss(theirs).citation
    spec = MarginMSELoss.input_spec
    assert (spec.min_texts, spec.max_texts, spec.label) == (3, None, LabelKind.FLOAT_OR_FLOAT_LIST)
    with pytest.raises(ValueError, match=r"MarginMSELoss expects a CrossEncoder with num_labels=1 .* got 3 labels"):
        MarginMSELoss(CrossEncoder(str(tiny_ce3_path), device="cpu"))
    with pytest.raises(ValueError, match="trains a CrossEncoder, got a SentenceTransformer"):
        MarginMSELoss(SentenceTransformer(str(tiny_bert_path), device="cpu"))


def test_margin_mse_gives_its_regression_loss_one_dtype(models: tuple) -> None:
    ours, _ = models  # float64 weights, float32 teacher margins
    loss = MarginMSELoss(ours)
    loss.loss_fct = SameDtypeMSE()
    value = loss([QUERIES, POSITIVES, NEGATIVES], MARGINS[:, 0])
    value.backward()
    assert value.dtype == torch.float64
    ours.zero_grad(set_to_none=True)
