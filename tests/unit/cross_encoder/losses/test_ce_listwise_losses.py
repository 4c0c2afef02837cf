"""ListNet, ListMLE, PListMLE and ADRMSE: values and gradients against sentence-transformers 6.2, equivalences,
reference formulas in plain torch, the shared listwise checks and mini-batching."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from listwise_helpers import (
    DISTINCT,
    GRADED,
    INPUTS,
    LABEL_SETS,
    assert_same,
    eval_pair,
    single_thread,
    tensors,
    value_and_grads,
)
from sentence_transformers.cross_encoder import losses as st_losses

from embedforge.cross_encoder import losses
from embedforge.cross_encoder.losses.listwise import ListwiseBatch, pair_chunk_size


@pytest.fixture(scope="module")
def models(_tiny_ce_session: Path) -> Iterator[tuple[Any, Any]]:
    """Both libraries' models on the session's tiny checkpoint (read only), shared by this module's tests."""
    with single_thread():
        yield eval_pair(_tiny_ce_session)


def _discount_by_position(mask: torch.Tensor) -> torch.Tensor:
    return mask.float() / torch.arange(1, mask.size(1) + 1, device=mask.device)


LOSS_CASES: dict[str, Callable[[Any, Any], torch.nn.Module]] = {
    "listnet": lambda model, lib: lib.ListNetLoss(model),
    "listnet-mb2": lambda model, lib: lib.ListNetLoss(model, mini_batch_size=2),
    "listnet-all": lambda model, lib: lib.ListNetLoss(model, mini_batch_size=-1),
    "listnet-zero": lambda model, lib: lib.ListNetLoss(model, mini_batch_size=0),
    "listnet-sigmoid": lambda model, lib: lib.ListNetLoss(model, activation_fn=torch.nn.Sigmoid()),
    "listmle": lambda model, lib: lib.ListMLELoss(model),
    "listmle-sorted": lambda model, lib: lib.ListMLELoss(model, respect_input_order=False, mini_batch_size=1),
    "plistmle": lambda model, lib: lib.PListMLELoss(model),
    "plistmle-sorted": lambda model, lib: lib.PListMLELoss(model, respect_input_order=False, mini_batch_size=-1),
    "plistmle-none": lambda model, lib: lib.PListMLELoss(model, lambda_weight=None),
    "plistmle-custom": lambda model, lib: lib.PListMLELoss(
        model, lambda_weight=lib.PListMLELambdaWeight(rank_discount_fn=_discount_by_position)
    ),
    "adrmse": lambda model, lib: lib.ADRMSELoss(model),
    "adrmse-alpha": lambda model, lib: lib.ADRMSELoss(model, alpha=2.5, mini_batch_size=4),
    "adrmse-tanh": lambda model, lib: lib.ADRMSELoss(model, activation_fn=torch.nn.Tanh(), mini_batch_size=-3),
}


@pytest.mark.parametrize("labels", ["graded", "binary"])
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_value_and_gradients_equal_sentence_transformers(models: tuple[Any, Any], case: str, labels: str) -> None:
    ours, theirs = models
    build = LOSS_CASES[case]
    mine = value_and_grads(build(ours, losses), ours, INPUTS, LABEL_SETS[labels])
    reference = value_and_grads(build(theirs, st_losses), theirs, INPUTS, LABEL_SETS[labels])
    assert_same(mine, reference)


def test_prompt_reaches_the_model_as_in_sentence_transformers(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    mine = value_and_grads(losses.ListNetLoss(ours), ours, INPUTS, GRADED, prompt="query: ")
    reference = value_and_grads(st_losses.ListNetLoss(theirs), theirs, INPUTS, GRADED, prompt="query: ")
    assert_same(mine, reference)
    without = value_and_grads(losses.ListNetLoss(ours), ours, INPUTS, GRADED)
    assert abs(float(without[0] - mine[0])) > 1e-6


def test_single_document_lists_give_a_constant_zero_as_in_sentence_transformers(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    inputs = [INPUTS[0][:2], [["a document."], ["another document."]]]
    mine = losses.ListMLELoss(ours)(inputs, tensors([[1.0], [0.0]]))
    reference = st_losses.ListMLELoss(theirs)(inputs, tensors([[1.0], [0.0]]))
    assert float(mine.detach()) == float(reference.detach()) == 0.0
    assert mine.requires_grad


def test_config_dicts_and_citations_match_sentence_transformers(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    for case in ("listnet-mb2", "listmle-sorted", "plistmle", "plistmle-none", "adrmse-alpha"):
        mine, reference = LOSS_CASES[case](ours, losses), LOSS_CASES[case](theirs, st_losses)
        mine_config, reference_config = mine.get_config_dict(), reference.get_config_dict()
        assert list(mine_config) == list(reference_config), case
        for key, value in reference_config.items():
            if isinstance(value, str) and value.startswith("sentence_transformers."):
                assert mine_config[key].startswith("embedforge.")
                assert mine_config[key].rsplit(".", 1)[1] == value.rsplit(".", 1)[1]
            else:
                assert mine_config[key] == value, (case, key)
        assert mine.citation.strip() == reference.citation.strip()
    assert losses.ListNetLoss(ours).get_config_dict()["activation_fn"] == "torch.nn.modules.linear.Identity"


def test_defaults_are_fresh_and_none_means_no_weights(models: tuple[Any, Any]) -> None:
    ours, _ = models
    first, second = losses.PListMLELoss(ours), losses.PListMLELoss(ours)
    assert isinstance(first.lambda_weight, losses.PListMLELambdaWeight)
    assert first.lambda_weight is not second.lambda_weight
    assert losses.PListMLELoss(ours, lambda_weight=None).lambda_weight is None
    assert losses.ListMLELoss(ours).lambda_weight is None
    assert isinstance(losses.ADRMSELoss(ours).activation_fn, torch.nn.Identity)


# Equivalences ---------------------------------------------------------------------------------------------------


def test_listmle_is_plistmle_without_weights(models: tuple[Any, Any]) -> None:
    ours, _ = models
    for order in (True, False):
        plain = value_and_grads(losses.ListMLELoss(ours, respect_input_order=order), ours, INPUTS, GRADED)
        weighted = value_and_grads(
            losses.PListMLELoss(ours, lambda_weight=None, respect_input_order=order), ours, INPUTS, GRADED
        )
        assert_same(plain, weighted, atol=1e-7)


@pytest.mark.parametrize("loss_class", [losses.ListMLELoss, losses.PListMLELoss])
def test_ordering_by_label_equals_presorted_lists(models: tuple[Any, Any], loss_class: type) -> None:
    ours, _ = models
    orders = [sorted(range(len(row)), key=lambda index, row=row: -row[index]) for row in DISTINCT]
    documents = [[docs[index] for index in order] for docs, order in zip(INPUTS[1], orders, strict=True)]
    labels = [[row[index] for index in order] for row, order in zip(DISTINCT, orders, strict=True)]
    by_label = value_and_grads(loss_class(ours, respect_input_order=False), ours, INPUTS, DISTINCT)
    presorted = value_and_grads(loss_class(ours), ours, [INPUTS[0], documents], labels)
    assert_same(by_label, presorted)
    unsorted = value_and_grads(loss_class(ours), ours, INPUTS, DISTINCT)
    assert abs(float(unsorted[0] - presorted[0])) > 1e-3


@pytest.mark.parametrize("loss_class", [losses.ListNetLoss, losses.ListMLELoss, losses.PListMLELoss, losses.ADRMSELoss])
def test_mini_batches_equal_all_pairs_at_once(models: tuple[Any, Any], loss_class: type) -> None:
    ours, _ = models
    at_once = value_and_grads(loss_class(ours, mini_batch_size=-1), ours, INPUTS, GRADED)
    for size in (1, 2, None):
        assert_same(value_and_grads(loss_class(ours, mini_batch_size=size), ours, INPUTS, GRADED), at_once)


@pytest.mark.parametrize(("size", "chunks"), [(None, [3, 3, 3]), (0, [3, 3, 3]), (-1, [9]), (4, [4, 4, 1]), (20, [9])])
def test_mini_batch_size_sets_the_pairs_per_forward_pass(
    models: tuple[Any, Any], size: int | None, chunks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = models
    seen: list[int] = []
    preprocess = ours.preprocess

    def counting(pairs: list[Any], **kwargs: Any) -> Any:
        seen.append(len(pairs))
        return preprocess(pairs, **kwargs)

    monkeypatch.setattr(ours, "preprocess", counting)
    losses.ListNetLoss(ours, mini_batch_size=size)(INPUTS, tensors(GRADED))
    assert seen == chunks
    assert min(pair_chunk_size(size, 3, 9), 9) == chunks[0]


# Independent references on hand-made scores ---------------------------------------------------------------------

SCORES = [[2.0, 0.5, -1.0, 0.7], [0.3, 0.1], [1.5, -0.2, 0.9]]


def _batch(scores: list[list[float]] = SCORES, labels: list[list[float]] = GRADED) -> ListwiseBatch:
    flat = torch.tensor([value for row in scores for value in row])
    return ListwiseBatch.from_scores(flat, tensors(labels))


def test_listnet_reference(models: tuple[Any, Any]) -> None:
    ours, _ = models
    expected = []
    for scores, labels in zip(SCORES, GRADED, strict=True):
        targets = torch.tensor(labels).softmax(dim=0)
        expected.append(-(targets * torch.tensor(scores).log_softmax(dim=0)).sum())
    computed = losses.ListNetLoss(ours).compute_loss(_batch())
    torch.testing.assert_close(computed, torch.stack(expected).mean(), atol=1e-6, rtol=0)


def test_adrmse_reference(models: tuple[Any, Any]) -> None:
    ours, _ = models
    alpha, total, count = 1.7, 0.0, 0
    for scores, labels in zip(SCORES, GRADED, strict=True):
        for i, (score, label) in enumerate(zip(scores, labels, strict=True)):
            higher = sum(other > label for other in labels)
            tied = sum(other == label for other in labels)  # counts the document itself
            target = higher + (tied + 1) / 2
            approx = 1 + sum(1 / (1 + math.exp(-alpha * (other - score))) for j, other in enumerate(scores) if j != i)
            total += (target - approx) ** 2 / math.log2(1 + target)
            count += 1
    computed = losses.ADRMSELoss(ours, alpha=alpha).compute_loss(_batch())
    assert abs(float(computed) - total / count) < 1e-5


def _plackett_luce(scores: list[float], weights: list[float]) -> float:
    return -sum(
        weight * (scores[r] - math.log(sum(math.exp(s) for s in scores[r:]))) for r, weight in enumerate(weights)
    )


def test_listmle_and_plistmle_references(models: tuple[Any, Any]) -> None:
    ours, _ = models
    plain = [_plackett_luce(scores, [1.0] * len(scores)) for scores in SCORES]
    weighted = []
    for scores in SCORES:
        raw = [2.0 ** (len(scores) - rank) - 1 for rank in range(1, len(scores) + 1)]
        weighted.append(_plackett_luce(scores, [weight / (sum(raw) + 1e-10) for weight in raw]))
    assert abs(float(losses.ListMLELoss(ours).compute_loss(_batch())) - sum(plain) / 3) < 1e-5
    assert abs(float(losses.PListMLELoss(ours).compute_loss(_batch())) - sum(weighted) / 3) < 1e-5


def test_plistmle_default_weights() -> None:
    weight = losses.PListMLELambdaWeight()
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    assert weight(mask).tolist() == [[7.0, 3.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    long = weight(torch.ones(1, 200, dtype=torch.bool))
    assert torch.isfinite(long).all() and torch.isfinite(long.sum())
    expected = torch.tensor([2.0 ** (200 - rank) - 1 for rank in range(1, 201)], dtype=torch.float64)
    torch.testing.assert_close((long / long.sum()).double()[0], expected / expected.sum(), atol=1e-7, rtol=1e-5)
    custom = losses.PListMLELambdaWeight(rank_discount_fn=_discount_by_position)
    assert custom(mask).flatten().tolist() == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 1.0, 0.5, 0.0, 0.0])


def test_batch_layout() -> None:
    batch = _batch()
    assert (batch.num_queries, batch.max_docs) == (3, 4)
    assert batch.mask().tolist() == [[True] * 4, [True, True, False, False], [True, True, True, False]]
    assert batch.score_grid(-7.0)[1].tolist() == pytest.approx([0.3, 0.1, -7.0, -7.0])
    assert batch.label_grid(float("-inf"))[2].tolist() == [2.0, 2.0, 0.0, float("-inf")]
    with pytest.raises(ValueError, match="one label per score"):
        ListwiseBatch.from_scores(torch.zeros(5), tensors(GRADED))


# Clear errors ------------------------------------------------------------------------------------------------------


def test_errors_say_what_was_expected(models: tuple[Any, Any]) -> None:
    ours, _ = models
    loss = losses.ListNetLoss(ours)
    with pytest.raises(ValueError, match="list of labels for each query.*single tensor of shape \\(3, 2\\)"):
        loss(INPUTS, torch.zeros(3, 2))
    with pytest.raises(
        ValueError,
        match=r"number of documents per query: \[4, 2, 3\], number of labels per query: "
        r"\[4, 2, 2\]",
    ):
        loss(INPUTS, tensors([[1, 0, 0, 1], [1, 0], [1, 0]]))
    with pytest.raises(ValueError, match="two input columns .* got 3 columns"):
        loss([*INPUTS, INPUTS[0]], tensors(GRADED))
    with pytest.raises(ValueError, match="list of documents per query; row 0 holds str"):
        loss([INPUTS[0], ["a", "b", "c"]], tensors(GRADED))
    with pytest.raises(ValueError, match="labels of query 1 are float"):
        loss(INPUTS, [torch.tensor([1.0, 0, 0, 1]), 1.0, torch.tensor([1.0, 0, 0])])
    with pytest.raises(ValueError, match="needs labels"):
        loss(INPUTS, None)
    with pytest.raises(ValueError, match="2 label lists for 3 queries"):
        loss(INPUTS, tensors(GRADED[:2]))
    with pytest.raises(ValueError, match="without any document"):
        loss([["q"], [[]]], [torch.tensor([])])


def test_several_labels_are_refused(tiny_ce3_path: Path) -> None:
    from embedforge.cross_encoder import CrossEncoder

    model = CrossEncoder(str(tiny_ce3_path), device="cpu")
    for loss_class in (
        losses.ListNetLoss,
        losses.ListMLELoss,
        losses.PListMLELoss,
        losses.ADRMSELoss,
        losses.LambdaLoss,
        losses.RankNetLoss,
    ):
        with pytest.raises(ValueError, match="num_labels=1 .* got 3 labels"):
            loss_class(model)


def test_input_spec_lets_the_trainer_check_listwise_data(models: tuple[Any, Any]) -> None:
    from datasets import Dataset

    from embedforge.data.validation import check_dataset

    ours, _ = models
    good = Dataset.from_dict({"query": INPUTS[0], "docs": INPUTS[1], "labels": GRADED})
    bad = Dataset.from_dict({"query": INPUTS[0], "docs": INPUTS[1], "labels": [[1.0], [0.0, 1.0], [1.0]]})
    for loss in (losses.ListNetLoss(ours), losses.LambdaLoss(ours), losses.ADRMSELoss(ours)):
        assert loss.input_spec.list_columns == (1,)
        assert check_dataset("train", good, loss) == []
        assert len(check_dataset("train", bad, loss)) == 1
