"""Helpers of the cross-encoder loss tests: both libraries' models on the same weights, value and gradient runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from ce_helpers import PAIRS, both_cross_encoders

QUERIES = [query for query, _ in PAIRS]
POSITIVES = [document for _, document in PAIRS]
NEGATIVES = [
    "a cat sleeps.",
    "the weather is cold and wet in the north of the country today.",
    "a dog runs on the beach near the water.",
    "nobody.",
    "the red car is parked in front of the old house near the station.",
]
NEGATIVES_2 = ["paris is big.", "music.", "the park is green.", "a table.", "the street is long and empty."]
ATOL = 1e-5


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """One intra-op thread for the module's tiny-model tests (faster on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def spread_models(path: Path, seed: int = 1) -> tuple:
    """``(ours, theirs)`` on ``path`` in eval mode, with the same re-drawn weights in both.

    The saved tiny classifier scores every pair almost alike (about 0.0093); larger random matrices make the
    scores differ, so that value and gradient comparisons test something. Both run in float64: the two libraries
    sum in different orders, and in float32 gradients of size ~30 (``reduction="sum"``) differ by ~1e-5 from
    rounding alone; in float64 an absolute ``1e-5`` tests the formulas, not the rounding.
    """
    ours, theirs = both_cross_encoders(path)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for (name, mine), (_, reference) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            assert mine.shape == reference.shape
            if mine.dim() == 2:
                scale = 3.0 if name.endswith("classifier.weight") else 0.2
                mine.copy_(torch.randn(mine.shape, generator=generator) * scale)
                reference.copy_(mine)
    return ours.eval().to(torch.float64), theirs.eval().to(torch.float64)


def loss_and_grads(
    loss: Callable, model: torch.nn.Module, inputs: list, labels: object, seed: int = 0, **kwargs: object
) -> tuple[float, list[torch.Tensor]]:
    """Value of ``loss(inputs, labels, **kwargs)`` under ``torch.manual_seed(seed)`` and the parameter gradients."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    value = loss(inputs, labels, **kwargs)
    value.backward()
    grads = [
        parameter.grad.clone() if parameter.grad is not None else torch.zeros_like(parameter)
        for parameter in model.parameters()
    ]
    model.zero_grad(set_to_none=True)
    return value.item(), grads


def assert_same_run(
    mine: tuple[float, list[torch.Tensor]], reference: tuple[float, list[torch.Tensor]], atol: float = ATOL
) -> None:
    """Equal values and equal gradients, parameter by parameter, within ``atol``; some gradient is non-zero."""
    assert mine[0] == pytest.approx(reference[0], abs=atol)
    assert len(mine[1]) == len(reference[1])
    for index, (grad, expected) in enumerate(zip(mine[1], reference[1], strict=True)):
        assert grad.shape == expected.shape
        difference = (grad - expected).abs().max().item()
        assert difference <= atol, f"parameter {index}: gradients differ by {difference}"
    assert any(bool(grad.abs().sum() > 0) for grad in mine[1])
