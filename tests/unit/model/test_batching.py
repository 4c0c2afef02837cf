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


def test_spread_slices_splits_too_few_batches_for_the_streams() -> None:
    from embedforge.model.batching import spread_slices

    slices = [np.array([4, 2, 0]), np.array([1])]
    assert [list(p) for p in spread_slices(slices, 2)] == [[4, 2, 0], [1]]  # enough batches: unchanged
    assert [list(p) for p in spread_slices([np.array([4, 2, 0, 1, 3])], 2)] == [[4, 2, 0], [1, 3]]
    assert [list(p) for p in spread_slices([np.array([7])], 4)] == [[7]]  # one input cannot be split
    assert spread_slices([], 3) == []


@pytest.mark.parametrize("streams", [1, 2, 3])
def test_run_in_batches_keeps_batch_order_across_streams(streams: int) -> None:
    import threading
    import time

    from embedforge.model.batching import run_in_batches

    seen_threads = set()

    def run(indices: np.ndarray) -> list[int]:
        seen_threads.add(threading.get_ident())
        time.sleep(0.002 * (10 - len(indices)))  # later (shorter) batches finish earlier
        return [int(i) * 10 for i in indices]

    slices = [np.arange(start, min(start + size, 30)) for start, size in ((0, 9), (9, 7), (16, 6), (22, 5), (27, 3))]
    results = run_in_batches(slices, run, show_progress_bar=False, streams=streams)
    assert [item for part in results for item in part] == [i * 10 for i in range(30)]
    assert len(seen_threads) == (1 if streams == 1 else streams)


def test_run_in_batches_raises_a_worker_error() -> None:
    from embedforge.model.batching import run_in_batches

    def run(indices: np.ndarray) -> int:
        if 3 in indices:
            raise RuntimeError("batch with input 3 failed")
        return len(indices)

    with pytest.raises(RuntimeError, match="batch with input 3 failed"):
        run_in_batches([np.array([0, 1]), np.array([2, 3]), np.array([4])], run, show_progress_bar=False, streams=2)
