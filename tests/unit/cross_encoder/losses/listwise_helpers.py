"""Shared by the listwise-loss tests: a ragged (query, [documents]) batch, and value + gradients of a loss."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from ce_helpers import both_cross_encoders

QUERIES = ["what is the capital?", "a man plays guitar", "who sits near the table?"]
DOCUMENTS = [
    [
        "the capital is a big old house near the water.",
        "two children eat food in the park.",
        "the car is in the street.",
        "the capital city is near the water.",
    ],
    ["a man is playing music outside.", "an old woman sits near a red table."],
    ["an old woman sits near a red table.", "a man sits at the table.", "the dog runs on the beach."],
]
INPUTS = [QUERIES, DOCUMENTS]
GRADED = [[3.0, 0.0, 1.0, 2.0], [0.0, 1.0], [2.0, 2.0, 0.0]]
"""Graded labels, with a tie in the last query."""
BINARY = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0], [1.0, 0.0, 0.0]]
DISTINCT = [[0.2, 3.0, 1.0, 2.5], [0.0, 1.0], [0.5, 2.0, 1.0]]
"""Labels without ties within a query (their order is unique)."""
LABEL_SETS = {"graded": GRADED, "binary": BINARY, "distinct": DISTINCT}


def tensors(rows: list[list[float]]) -> list[torch.Tensor]:
    """One label tensor per query, as the collator gives them."""
    return [torch.tensor(row) for row in rows]


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: the tiny model gains nothing from more, and the test machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def eval_pair(path: Path) -> tuple[Any, Any]:
    """embedforge's and sentence-transformers' CrossEncoder on the same weights, in eval mode (no dropout).

    The tiny checkpoint scores every pair almost alike (logits within 1e-4), which would leave rankings to
    rounding noise; both models get the same seeded perturbation of every weight and a larger head, so that the
    scores of ``INPUTS`` spread over a few units. Both run in float64, so that ``1e-5`` compares the formulas.
    """
    ours, theirs = both_cross_encoders(path)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert mine.shape == reference.shape
            noise = torch.randn(mine.shape, generator=generator) * 0.2
            mine.add_(noise)
            reference.add_(noise)
        head = list(ours.parameters())[-2], list(theirs.parameters())[-2]
        for weight in head:
            weight.mul_(8.0)
    # float64: the two libraries sum in different orders, and float32 rounding alone can reach 1e-5 in gradients
    return ours.eval().to(torch.float64), theirs.eval().to(torch.float64)


def value_and_grads(
    loss: Callable[..., torch.Tensor],
    model: torch.nn.Module,
    inputs: list[Any],
    labels: list[list[float]],
    **kwargs: Any,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The loss value and the gradient of every model parameter (zeros where none flows)."""
    model.zero_grad(set_to_none=True)
    value = loss(inputs, tensors(labels), **kwargs)
    if value.requires_grad:
        value.backward()
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    return value.detach(), grads


def max_difference(
    first: tuple[torch.Tensor, list[torch.Tensor]], second: tuple[torch.Tensor, list[torch.Tensor]]
) -> tuple[float, float]:
    """``(value difference, largest gradient difference)`` between two ``value_and_grads`` results."""
    assert len(first[1]) == len(second[1])
    grads = max(float((a - b).abs().max()) for a, b in zip(first[1], second[1], strict=True))
    return float((first[0] - second[0]).abs()), grads


def assert_same(
    first: tuple[torch.Tensor, list[torch.Tensor]], second: tuple[torch.Tensor, list[torch.Tensor]], atol: float = 1e-5
) -> None:
    """Same value and same parameter gradients within ``atol``; the gradients must not all be zero."""
    value_gap, grad_gap = max_difference(first, second)
    assert value_gap <= atol, (float(first[0]), float(second[0]))
    assert grad_gap <= atol, grad_gap
    assert any(float(g.abs().max()) > 0 for g in first[1]) or float(first[0]) == 0.0
