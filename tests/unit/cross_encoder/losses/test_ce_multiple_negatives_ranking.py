"""MultipleNegativesRankingLoss (cross-encoder) against sentence-transformers 6.2, and its negative sampler alone."""

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

from embedforge.cross_encoder.losses import MultipleNegativesRankingLoss
from embedforge.cross_encoder.losses.multiple_negatives_ranking import sample_negative_indices, sampled_negative_columns
from embedforge.losses.base import LabelKind

st_losses = pytest.importorskip("sentence_transformers.cross_encoder.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]  # the fixture, imported for this module

COLUMNS = [QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2]


@pytest.fixture(scope="module")
def models(_tiny_ce_session: Path) -> tuple:
    return spread_models(_tiny_ce_session)


@pytest.mark.parametrize(
    ("columns", "options"),
    [
        (2, {"num_negatives": None}),
        (3, {"num_negatives": None}),
        (4, {"num_negatives": 100}),  # more than available: every candidate
        (3, {"num_negatives": 3}),  # sampled: the same draws under the same seed
        (4, {"num_negatives": 5, "scale": 1.0, "activation_fn": None}),
        (2, {"num_negatives": 2, "scale": 0.0, "activation_fn": torch.nn.Tanh()}),
        (3, {}),
    ],
)
def test_equals_sentence_transformers(models: tuple, columns: int, options: dict) -> None:
    ours, theirs = models
    inputs = COLUMNS[:columns]
    mine = loss_and_grads(MultipleNegativesRankingLoss(ours, **options), ours, inputs, None, seed=3, prompt="q: ")
    reference = loss_and_grads(
        st_losses.MultipleNegativesRankingLoss(theirs, **options), theirs, inputs, None, seed=3, prompt="q: "
    )
    assert_same_run(mine, reference)


def test_one_row_has_only_its_own_documents(models: tuple) -> None:
    ours, theirs = models
    inputs = [column[:1] for column in COLUMNS[:3]]
    mine = loss_and_grads(MultipleNegativesRankingLoss(ours), ours, inputs, None)
    assert_same_run(mine, loss_and_grads(st_losses.MultipleNegativesRankingLoss(theirs), theirs, inputs, None))
    pairs_only = MultipleNegativesRankingLoss(ours)([QUERIES[:1], POSITIVES[:1]], None)
    assert pairs_only.item() == 0.0  # one candidate: nothing to rank


def test_value_is_cross_entropy_over_every_candidate(models: tuple) -> None:
    ours, _ = models
    batch = len(QUERIES)
    with torch.no_grad():
        value = MultipleNegativesRankingLoss(ours, num_negatives=None)(COLUMNS[:3], None)
    documents = POSITIVES + NEGATIVES
    rows = []
    for i, query in enumerate(QUERIES):
        others = [text for index, text in enumerate(documents) if index % batch != i]
        candidates = [POSITIVES[i], *others, NEGATIVES[i]]
        rows.append(ours.predict([(query, text) for text in candidates], convert_to_tensor=True))  # sigmoid
    logits = 10.0 * torch.stack(rows)
    expected = torch.nn.functional.cross_entropy(logits, torch.zeros(batch, dtype=torch.long))
    assert value.item() == pytest.approx(expected.item(), abs=1e-6)
    assert abs(value.item() - torch.log(torch.tensor(float(logits.shape[1]))).item()) > 1e-2  # scores differ


@pytest.mark.parametrize(("batch", "columns", "count"), [(5, 1, 2), (5, 3, 4), (4, 2, 7), (3, 2, None), (6, 1, 9)])
def test_sampler_never_picks_the_rows_own_documents(batch: int, columns: int, count: int | None) -> None:
    torch.manual_seed(0)
    indices = sample_negative_indices(batch, columns, count)
    available = (batch - 1) * columns
    expected = available if count is None or count >= available else count
    assert indices.shape == (batch, expected) and indices.dtype == torch.long
    for row, chosen in enumerate(indices.tolist()):
        assert len(set(chosen)) == len(chosen)  # without replacement
        assert all(0 <= index < batch * columns and index % batch != row for index in chosen)
        if expected == available:  # all of them, in order
            assert chosen == [index for index in range(batch * columns) if index % batch != row]


def test_sampler_is_uniform_and_seeded() -> None:
    torch.manual_seed(0)
    draws = torch.stack([sample_negative_indices(4, 2, 2) for _ in range(3000)])  # (3000, 4, 2)
    for row in range(4):
        counts = torch.bincount(draws[:, row].reshape(-1), minlength=8)
        allowed = [index for index in range(8) if index % 4 != row]
        assert counts[[index for index in range(8) if index % 4 == row]].sum() == 0
        assert ((counts[allowed] - 1000).abs() < 100).all(), counts  # 6 candidates, 2 of them per draw
    torch.manual_seed(7)
    first = sample_negative_indices(5, 2, 3)
    torch.manual_seed(7)
    assert torch.equal(first, sample_negative_indices(5, 2, 3))
    assert sample_negative_indices(5, 2, 0).shape == (5, 0)


@pytest.mark.parametrize("count", [1, 3, 8, None])
def test_sampled_columns_equal_sentence_transformers(models: tuple, count: int | None) -> None:
    reference_loss = st_losses.MultipleNegativesRankingLoss(models[1], num_negatives=count)
    torch.manual_seed(11)
    mine = sampled_negative_columns(COLUMNS[1:3], count)
    torch.manual_seed(11)
    reference = list(reference_loss.get_in_batch_negatives(QUERIES, COLUMNS[1:3]))
    assert mine == reference
    assert len(mine) == (8 if count is None else count)
    for column in mine:
        for row, text in enumerate(column):
            assert text not in (POSITIVES[row], NEGATIVES[row])


def test_zero_negatives_keeps_only_the_hard_negatives(models: tuple) -> None:
    ours, _ = models
    with torch.no_grad():
        value = MultipleNegativesRankingLoss(ours, num_negatives=0)(COLUMNS[:3], None)
        scores = torch.stack(
            [
                ours.predict(list(zip(QUERIES, column, strict=True)), convert_to_tensor=True)
                for column in (POSITIVES, NEGATIVES)
            ],
            dim=1,
        )
    expected = torch.nn.functional.cross_entropy(10.0 * scores, torch.zeros(5, dtype=torch.long))
    assert value.item() == pytest.approx(expected.item(), abs=1e-6)


def test_errors(models: tuple, tiny_ce3_path: Path, tiny_bert_path: Path) -> None:
    from embedforge import SentenceTransformer
    from embedforge.cross_encoder import CrossEncoder

    loss = MultipleNegativesRankingLoss(models[0])
    with pytest.raises(ValueError, match=r"at least 2 text columns \(anchor, positive.*\), got 1\. Add"):
        loss([QUERIES], None)
    with pytest.raises(ValueError, match=r"columns of one length, got lengths \[4, 5\]"):
        loss([QUERIES, POSITIVES[:4]], None)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=rf"num_negatives must be a non-negative integer .* got {bad!r}"):
            MultipleNegativesRankingLoss(models[0], num_negatives=bad)
    with pytest.raises(ValueError, match=r"expects a CrossEncoder with num_labels=1 .* got 3 labels"):
        MultipleNegativesRankingLoss(CrossEncoder(str(tiny_ce3_path), device="cpu"))
    with pytest.raises(ValueError, match="trains a CrossEncoder, got a SentenceTransformer"):
        MultipleNegativesRankingLoss(SentenceTransformer(str(tiny_bert_path), device="cpu"))


def test_config_and_spec_match_sentence_transformers(models: tuple) -> None:
    ours, theirs = models
    for options in ({}, {"num_negatives": None, "scale": 20.0, "activation_fn": None}):
        expected = st_losses.MultipleNegativesRankingLoss(theirs, **options).get_config_dict()
        assert MultipleNegativesRankingLoss(ours, **options).get_config_dict() == expected
    assert MultipleNegativesRankingLoss(ours).citation is None
    spec = MultipleNegativesRankingLoss.input_spec
    assert (spec.min_texts, spec.max_texts, spec.label) == (2, None, LabelKind.NONE)
