"""CachedMultipleNegativesRankingLoss (cross-encoder): equal to the plain loss and to sentence-transformers; replay."""

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

from embedforge.cross_encoder.losses import CachedMultipleNegativesRankingLoss, MultipleNegativesRankingLoss
from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.cross_encoder.losses.multiple_negatives_ranking import in_batch_ranking_loss, sampled_negative_columns
from embedforge.losses.base import LabelKind
from embedforge.losses.cached import CachedLoss, GradCacheLoss
from embedforge.losses.minibatch import minibatch_ranges, slice_features

st_losses = pytest.importorskip("sentence_transformers.cross_encoder.losses")

pytestmark = pytest.mark.usefixtures("single_thread")
__all__ = ["single_thread"]  # the fixture, imported for this module

COLUMNS = [QUERIES, POSITIVES, NEGATIVES, NEGATIVES_2]


@pytest.fixture(scope="module")
def models(_tiny_ce_session: Path) -> tuple:
    return spread_models(_tiny_ce_session)


@pytest.fixture(scope="module")
def model64(_tiny_ce_session: Path) -> torch.nn.Module:
    """Our model in float64: differences between the cached and the plain loss are then the engine's, not rounding's.

    In float32 the two differ by up to about 1e-5 in gradients of magnitude 5 (other summation orders).
    """
    return spread_models(_tiny_ce_session)[0].to(torch.float64)


@pytest.mark.parametrize("mini_batch_size", [1, 2, 7, 32])
@pytest.mark.parametrize(("columns", "num_negatives"), [(2, None), (3, None), (4, 3)])
def test_equals_the_plain_loss(
    model64: torch.nn.Module, mini_batch_size: int, columns: int, num_negatives: int | None
) -> None:
    ours = model64
    inputs = COLUMNS[:columns]
    cached = CachedMultipleNegativesRankingLoss(ours, num_negatives=num_negatives, mini_batch_size=mini_batch_size)
    plain = MultipleNegativesRankingLoss(ours, num_negatives=num_negatives)
    assert_same_run(
        loss_and_grads(cached, ours, inputs, None, seed=5, prompt="q: "),
        loss_and_grads(plain, ours, inputs, None, seed=5, prompt="q: "),
    )


@pytest.mark.parametrize(
    ("mini_batch_size", "options"),
    [
        (3, {"num_negatives": 3}),
        (32, {"num_negatives": None, "activation_fn": None, "scale": 2.0}),
    ],
)
def test_equals_sentence_transformers(models: tuple, mini_batch_size: int, options: dict) -> None:
    ours, theirs = models
    inputs = COLUMNS[:3]
    mine = loss_and_grads(
        CachedMultipleNegativesRankingLoss(ours, mini_batch_size=mini_batch_size, **options), ours, inputs, None, seed=2
    )
    reference = loss_and_grads(
        st_losses.CachedMultipleNegativesRankingLoss(theirs, mini_batch_size=mini_batch_size, **options),
        theirs,
        inputs,
        None,
        seed=2,
    )
    assert_same_run(mine, reference)


def _plain_in_mini_batches(
    model: torch.nn.Module, inputs: list, num_negatives: int | None, mini_batch_size: int, seed: int
) -> tuple[float, list[torch.Tensor]]:
    """The loss with gradients in one pass, drawing randomness in the cached loss's order: sample, then mini-batches."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    columns = [inputs[1], *sampled_negative_columns(inputs[1:], num_negatives), *inputs[2:]]
    pairs = [(query, text) for column in columns for query, text in zip(inputs[0], column, strict=True)]
    features = model.preprocess(pairs, prompt=None)
    logits = [
        model(slice_features(features, begin, end))["scores"]
        for begin, end in minibatch_ranges(features, mini_batch_size)
    ]
    scores = torch.cat(logits).view(-1, len(inputs[0])).T
    value = in_batch_ranking_loss(scores, torch.nn.Sigmoid(), 10.0)
    value.backward()
    grads = [parameter.grad.clone() for parameter in model.parameters()]
    model.zero_grad(set_to_none=True)
    return value.item(), grads


@pytest.mark.parametrize("mini_batch_size", [2, 6, 32])
def test_dropout_masks_are_replayed(models: tuple, mini_batch_size: int) -> None:
    ours, _ = models
    inputs = COLUMNS[:3]
    ours.train()
    try:
        cached = loss_and_grads(
            CachedMultipleNegativesRankingLoss(ours, mini_batch_size=mini_batch_size), ours, inputs, None, seed=9
        )
        reference = _plain_in_mini_batches(ours, inputs, 4, mini_batch_size, seed=9)
        other_seed = loss_and_grads(
            CachedMultipleNegativesRankingLoss(ours, mini_batch_size=mini_batch_size), ours, inputs, None, seed=10
        )
    finally:
        ours.eval()
    assert_same_run(cached, reference)
    without_dropout = loss_and_grads(
        CachedMultipleNegativesRankingLoss(ours, mini_batch_size=mini_batch_size), ours, inputs, None, seed=9
    )
    assert abs(cached[0] - without_dropout[0]) > 1e-4  # dropout was active
    assert abs(cached[0] - other_seed[0]) > 1e-4


def test_without_gradients_no_replay_and_same_value(models: tuple) -> None:
    ours, _ = models
    with torch.no_grad():
        torch.manual_seed(1)
        cached = CachedMultipleNegativesRankingLoss(ours, mini_batch_size=4)(COLUMNS[:3], None)
        torch.manual_seed(1)
        plain = MultipleNegativesRankingLoss(ours)(COLUMNS[:3], None)
    assert not cached.requires_grad
    assert cached.item() == pytest.approx(plain.item(), abs=1e-6)


def test_the_gradient_reaching_the_loss_scales_the_replay(model64: torch.nn.Module) -> None:
    ours = model64
    loss = CachedMultipleNegativesRankingLoss(ours, num_negatives=None, mini_batch_size=3)
    full = loss_and_grads(loss, ours, COLUMNS[:2], None)
    half = loss_and_grads(lambda inputs, labels: 0.5 * loss(inputs, labels), ours, COLUMNS[:2], None)
    assert_same_run(half, (0.5 * full[0], [0.5 * grad for grad in full[1]]), atol=1e-6)


def test_is_a_cross_encoder_loss_on_the_shared_engine(models: tuple) -> None:
    loss = CachedMultipleNegativesRankingLoss(models[0])
    assert isinstance(loss, GradCacheLoss) and isinstance(loss, CrossEncoderLoss)
    assert not isinstance(loss, CachedLoss)  # the bi-encoder modifiers (Matryoshka…) do not apply
    assert loss.uses_gradient_cache
    spec = CachedMultipleNegativesRankingLoss.input_spec
    assert (spec.min_texts, spec.max_texts, spec.label) == (2, None, LabelKind.NONE)


def test_config_matches_sentence_transformers(models: tuple) -> None:
    ours, theirs = models
    for options in ({}, {"num_negatives": None, "scale": 20.0, "activation_fn": None, "mini_batch_size": 8}):
        expected = st_losses.CachedMultipleNegativesRankingLoss(theirs, **options).get_config_dict()
        assert CachedMultipleNegativesRankingLoss(ours, **options).get_config_dict() == expected
    assert CachedMultipleNegativesRankingLoss(ours).citation is None


def test_errors(models: tuple, tiny_ce3_path: Path, tiny_bert_path: Path) -> None:
    from embedforge import SentenceTransformer
    from embedforge.cross_encoder import CrossEncoder

    with pytest.raises(ValueError, match="mini_batch_size must be a positive integer, got 0"):
        CachedMultipleNegativesRankingLoss(models[0], mini_batch_size=0)
    with pytest.raises(ValueError, match="num_negatives must be a non-negative integer"):
        CachedMultipleNegativesRankingLoss(models[0], num_negatives=-2)
    with pytest.raises(ValueError, match="at least 2 text columns"):
        CachedMultipleNegativesRankingLoss(models[0])([QUERIES], None)
    with pytest.raises(ValueError, match=r"expects a CrossEncoder with num_labels=1 .* got 3 labels"):
        CachedMultipleNegativesRankingLoss(CrossEncoder(str(tiny_ce3_path), device="cpu"))
    with pytest.raises(ValueError, match="trains a CrossEncoder, got a SentenceTransformer"):
        CachedMultipleNegativesRankingLoss(SentenceTransformer(str(tiny_bert_path), device="cpu"))
