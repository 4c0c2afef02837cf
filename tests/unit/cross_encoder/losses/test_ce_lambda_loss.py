"""LambdaLoss (five weighting schemes) and RankNetLoss: values and gradients against sentence-transformers 6.2,
RankNet == LambdaLoss without weights, mini-batching, and pair-by-pair reference computations."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from listwise_helpers import (
    BINARY,
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
from embedforge.cross_encoder.losses.listwise import ListwiseBatch

SCHEMES = ["NoWeightingScheme", "NDCGLoss1Scheme", "NDCGLoss2Scheme", "LambdaRankScheme", "NDCGLoss2PPScheme"]


@pytest.fixture(scope="module")
def models(_tiny_ce_session: Path) -> Iterator[tuple[Any, Any]]:
    """Both libraries' models on the session's tiny checkpoint (read only), shared by this module's tests."""
    with single_thread():
        yield eval_pair(_tiny_ce_session)


@pytest.mark.parametrize("labels", ["graded", "binary"])
@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_equals_sentence_transformers(
    models: tuple[Any, Any], scheme: str, k: int | None, labels: str
) -> None:
    ours, theirs = models
    mine = value_and_grads(
        losses.LambdaLoss(ours, weighting_scheme=getattr(losses, scheme)(), k=k), ours, INPUTS, LABEL_SETS[labels]
    )
    reference = value_and_grads(
        st_losses.LambdaLoss(theirs, weighting_scheme=getattr(st_losses, scheme)(), k=k),
        theirs,
        INPUTS,
        LABEL_SETS[labels],
    )
    assert_same(mine, reference)


OPTION_CASES: dict[str, Callable[[Any, Any], torch.nn.Module]] = {
    "default": lambda model, lib: lib.LambdaLoss(model),
    "none-scheme": lambda model, lib: lib.LambdaLoss(model, weighting_scheme=None),
    "mu-natural": lambda model, lib: lib.LambdaLoss(
        model, weighting_scheme=lib.NDCGLoss2PPScheme(mu=3.0), reduction_log="natural"
    ),
    "sigma-k1": lambda model, lib: lib.LambdaLoss(model, sigma=2.5, k=1, mini_batch_size=1),
    "k-large-all": lambda model, lib: lib.LambdaLoss(
        model, weighting_scheme=lib.LambdaRankScheme(), k=10, mini_batch_size=-1
    ),
    "sigmoid-mb4": lambda model, lib: lib.LambdaLoss(model, activation_fn=torch.nn.Sigmoid(), mini_batch_size=4),
    "ranknet": lambda model, lib: lib.RankNetLoss(model),
    "ranknet-k2": lambda model, lib: lib.RankNetLoss(model, k=2, sigma=0.5, reduction_log="natural", mini_batch_size=0),
    "ranknet-tanh": lambda model, lib: lib.RankNetLoss(model, activation_fn=torch.nn.Tanh(), mini_batch_size=-2),
}


@pytest.mark.parametrize("labels", ["graded", "binary"])
@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_options_equal_sentence_transformers(models: tuple[Any, Any], case: str, labels: str) -> None:
    ours, theirs = models
    mine = value_and_grads(OPTION_CASES[case](ours, losses), ours, INPUTS, LABEL_SETS[labels])
    reference = value_and_grads(OPTION_CASES[case](theirs, st_losses), theirs, INPUTS, LABEL_SETS[labels])
    assert_same(mine, reference)


def test_negative_labels_and_lists_without_relevant_documents_equal_sentence_transformers(
    models: tuple[Any, Any],
) -> None:
    ours, theirs = models
    labels = [[-1.0, 0.0, 2.0, 0.5], [0.0, 0.0], [1.0, -2.0, 0.0]]
    for scheme in SCHEMES:
        mine = value_and_grads(
            losses.LambdaLoss(ours, weighting_scheme=getattr(losses, scheme)()), ours, INPUTS, labels
        )
        reference = value_and_grads(
            st_losses.LambdaLoss(theirs, weighting_scheme=getattr(st_losses, scheme)()), theirs, INPUTS, labels
        )
        assert_same(mine, reference)


def test_schemes_equal_sentence_transformers_on_random_gains() -> None:
    generator = torch.Generator().manual_seed(1)
    gain = torch.rand(3, 6, generator=generator)
    discount = torch.log2(1.0 + torch.arange(1, 7).float())[None, :]
    true_sorted = torch.rand(3, 6, generator=generator) * 3
    for scheme in SCHEMES:
        mine = getattr(losses, scheme)()(gain, discount, true_sorted)
        reference = getattr(st_losses, scheme)()(gain, discount, true_sorted)
        torch.testing.assert_close(mine, reference, atol=1e-6, rtol=1e-6)
    assert losses.NDCGLoss1Scheme.ordered_pairs_only is False
    assert all(getattr(losses, scheme).ordered_pairs_only for scheme in SCHEMES if scheme != "NDCGLoss1Scheme")


# Equivalences ---------------------------------------------------------------------------------------------------


def test_ranknet_is_lambdaloss_without_weights(models: tuple[Any, Any]) -> None:
    ours, _ = models
    for k, labels in itertools.product((None, 2), (GRADED, BINARY)):
        ranknet = value_and_grads(losses.RankNetLoss(ours, k=k), ours, INPUTS, labels)
        unweighted = value_and_grads(
            losses.LambdaLoss(ours, weighting_scheme=losses.NoWeightingScheme(), k=k), ours, INPUTS, labels
        )
        assert_same(ranknet, unweighted, atol=1e-7)
    assert isinstance(losses.LambdaLoss(ours, weighting_scheme=None).weighting_scheme, losses.NoWeightingScheme)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_mini_batches_equal_all_pairs_at_once(models: tuple[Any, Any], scheme: str) -> None:
    ours, _ = models
    at_once = value_and_grads(
        losses.LambdaLoss(ours, weighting_scheme=getattr(losses, scheme)(), mini_batch_size=-1), ours, INPUTS, GRADED
    )
    for size in (1, 3, None):
        loss = losses.LambdaLoss(ours, weighting_scheme=getattr(losses, scheme)(), mini_batch_size=size)
        assert_same(value_and_grads(loss, ours, INPUTS, GRADED), at_once)


# Pair-by-pair references on hand-made scores --------------------------------------------------------------------

SCORES = [[2.0, 0.5, -1.0, 0.7], [0.3, 0.1], [1.5, -0.2, 0.9]]


def _batch(labels: list[list[float]]) -> ListwiseBatch:
    return ListwiseBatch.from_scores(torch.tensor([value for row in SCORES for value in row]), tensors(labels))


def _reference(labels: list[list[float]], weight: Callable[..., float], k: int | None, all_pairs: bool) -> float:
    """LambdaLoss written pair by pair: documents sorted by score, log2 of the sigmoid of score differences."""
    total, count = 0.0, 0
    for scores, row in zip(SCORES, labels, strict=True):
        order = sorted(range(len(scores)), key=lambda index, scores=scores: -scores[index])
        s, y = [scores[index] for index in order], [max(row[index], 0.0) for index in order]
        ideal = sorted((max(value, 0.0) for value in row), reverse=True)[: k or len(row)]
        max_dcg = max(sum((2**value - 1) / math.log2(2 + rank) for rank, value in enumerate(ideal)), 1e-10)
        gains = [(2**value - 1) / max_dcg for value in y]
        for i, j in itertools.product(range(len(s)), repeat=2):
            if (all_pairs or y[i] > y[j]) and (k is None or min(i, j) < k):
                total += weight(i, j, gains) * math.log2(1 / (1 + math.exp(-(s[i] - s[j]))))
                count += 1
    return -total / count


def _discount(position: int) -> float:
    return math.log2(2 + position)  # 0-based position


REFERENCE_WEIGHTS: dict[str, Callable[..., float]] = {
    "NoWeightingScheme": lambda i, j, gains: 1.0,
    "NDCGLoss1Scheme": lambda i, j, gains: gains[i] / _discount(i),
    "NDCGLoss2Scheme": lambda i, j, gains: (
        0.0 if i == j else abs(gains[i] - gains[j]) * abs(1 / math.log2(1 + abs(i - j)) - 1 / math.log2(2 + abs(i - j)))
    ),
    "LambdaRankScheme": lambda i, j, gains: abs(gains[i] - gains[j]) * abs(1 / _discount(i) - 1 / _discount(j)),
}


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("scheme", list(REFERENCE_WEIGHTS))
def test_lambdaloss_reference(models: tuple[Any, Any], scheme: str, k: int | None) -> None:
    ours, _ = models
    # Distinct scores; labels with a tie, a zero-gain list and a negative label.
    labels = [[3.0, 0.0, 1.0, 2.0], [0.0, 1.0], [2.0, 2.0, -1.0]]
    loss = losses.LambdaLoss(ours, weighting_scheme=getattr(losses, scheme)(), k=k)
    computed = float(loss.compute_loss(_batch(labels)))
    # NDCG-Loss1 keeps every pair of real documents, the others only correctly ordered ones.
    expected = _reference(labels, REFERENCE_WEIGHTS[scheme], k, all_pairs=scheme == "NDCGLoss1Scheme")
    assert abs(computed - expected) < 1e-5, (computed, expected)


def test_ndcg_loss2pp_is_mu_ndcg_loss2_plus_lambdarank(models: tuple[Any, Any]) -> None:
    ours, _ = models
    batch = _batch(GRADED)
    combined = losses.LambdaLoss(ours, weighting_scheme=losses.NDCGLoss2PPScheme(mu=4.0)).compute_loss(batch)
    ndcg2 = losses.LambdaLoss(ours, weighting_scheme=losses.NDCGLoss2Scheme()).compute_loss(batch)
    lambda_rank = losses.LambdaLoss(ours, weighting_scheme=losses.LambdaRankScheme()).compute_loss(batch)
    torch.testing.assert_close(combined, 4.0 * ndcg2 + lambda_rank, atol=1e-6, rtol=0)


def test_natural_log_is_binary_times_ln2(models: tuple[Any, Any]) -> None:
    ours, _ = models
    natural = losses.RankNetLoss(ours, reduction_log="natural").compute_loss(_batch(GRADED))
    binary = losses.RankNetLoss(ours).compute_loss(_batch(GRADED))
    torch.testing.assert_close(natural, binary * math.log(2), atol=1e-6, rtol=0)


# Configuration and errors ---------------------------------------------------------------------------------------


def test_config_dicts_and_citations_match_sentence_transformers(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    for case in ("default", "mu-natural", "sigma-k1", "ranknet-k2"):
        mine, reference = OPTION_CASES[case](ours, losses), OPTION_CASES[case](theirs, st_losses)
        mine_config, reference_config = mine.get_config_dict(), reference.get_config_dict()
        assert list(mine_config) == list(reference_config), case
        for key, value in reference_config.items():
            if isinstance(value, str) and value.startswith("sentence_transformers."):
                assert mine_config[key].startswith("embedforge.")
                assert mine_config[key].rsplit(".", 1)[1] == value.rsplit(".", 1)[1]
            else:
                assert mine_config[key] == value, (case, key)
        assert mine.citation.strip() == reference.citation.strip()
    assert "weighting_scheme" not in losses.RankNetLoss(ours).get_config_dict()


def test_default_scheme_is_fresh_per_loss(models: tuple[Any, Any]) -> None:
    ours, _ = models
    first, second = losses.LambdaLoss(ours), losses.LambdaLoss(ours)
    assert isinstance(first.weighting_scheme, losses.NDCGLoss2PPScheme) and first.weighting_scheme.mu == 10.0
    assert first.weighting_scheme is not second.weighting_scheme


def test_errors(models: tuple[Any, Any]) -> None:
    ours, _ = models
    with pytest.raises(ValueError, match="reduction_log to be one of .* got 'log10'"):
        losses.LambdaLoss(ours, reduction_log="log10")
    with pytest.raises(ValueError, match="BaseWeightingScheme or None, got Identity"):
        losses.LambdaLoss(ours, weighting_scheme=torch.nn.Identity())
    with pytest.raises(TypeError, match="abstract"):
        losses.BaseWeightingScheme()
    with pytest.raises(ValueError, match="list of labels for each query"):
        losses.RankNetLoss(ours)(INPUTS, torch.zeros(3, 4))
    with pytest.raises(ValueError, match="one label per document"):
        losses.LambdaLoss(ours)(INPUTS, tensors([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
