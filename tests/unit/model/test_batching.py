"""Length-sorted batching: slices cover every input once; the token budget keeps peak tokens at the first batch's."""

from __future__ import annotations

import numpy as np
import pytest

from embedforge.model.batching import BatchPlan


def _plan(lengths: list[int]) -> BatchPlan:
    values = np.asarray(lengths)
    return BatchPlan(np.argsort(-values, kind="stable"), lambda indices: {}, values)


@pytest.mark.parametrize("token_budget", [False, True])
def test_slices_cover_every_input_once(token_budget: bool) -> None:
    rng = np.random.default_rng(0)
    plan = _plan(list(rng.integers(3, 90, size=257)))
    slices = plan.slices(16, token_budget=token_budget)
    assert np.array_equal(np.concatenate(slices), plan.order)
    assert all(len(part) >= 16 for part in slices[:-1])


def test_token_budget_never_exceeds_the_first_batch() -> None:
    lengths = [80] * 5 + [40] * 40 + [10] * 200
    plan = _plan(lengths)
    slices = plan.slices(4, token_budget=True)
    budget = 4 * 80
    assert len(slices[0]) == 4
    for part in slices:
        assert len(part) * int(plan.lengths[part].max()) <= budget or len(part) == 4
    short = [part for part in slices if int(plan.lengths[part].max()) == 10]
    assert [len(part) for part in short[:-1]] == [32] * (len(short) - 1)  # budget 320 tokens / 10 per input
    assert len(slices) < len(plan.slices(4))


def test_without_lengths_slices_are_fixed_size() -> None:
    plan = BatchPlan(np.arange(10), lambda indices: {})
    assert [len(part) for part in plan.slices(4, token_budget=True)] == [4, 4, 2]
