"""embedforge.util.distributed: single-process fallbacks, and a real 2-process gloo group for the gathers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from embedforge.util import distributed
from embedforge.util.distributed import (
    all_gather,
    all_gather_padded,
    all_gather_with_grad,
    distributed_evaluation,
    get_rank,
    get_world_size,
)
from spawn_helpers import leave_group, run_ranks

WORLD_SIZE = 2


def test_single_process_fallbacks(caplog: pytest.LogCaptureFixture):
    assert not dist.is_initialized()
    assert get_rank() == 0
    assert get_world_size() == 1
    tensor = torch.randn(3, 2, requires_grad=True)
    with caplog.at_level(logging.WARNING, logger=distributed.__name__):
        assert all_gather(tensor) is tensor
        assert all_gather_with_grad(tensor) is tensor
    mask = torch.ones(3, 5, dtype=torch.bool)
    embeddings = torch.randn(3, 5, 4)
    gathered, gathered_mask = all_gather_padded(embeddings, mask)
    assert gathered is embeddings
    assert gathered_mask is mask


def test_single_process_warning_is_logged_once(caplog: pytest.LogCaptureFixture):
    from embedforge.util import logging as util_logging

    util_logging._WARNED.clear()
    with caplog.at_level(logging.WARNING, logger=distributed.__name__):
        all_gather(torch.ones(1))
        all_gather(torch.ones(1))
    assert sum("torch.distributed" in record.getMessage() for record in caplog.records) == 1


def test_distributed_evaluation_single_process():
    with distributed_evaluation(model=None) as should_run:
        assert should_run is True
    with distributed_evaluation(model=None, enabled=False) as should_run:
        assert should_run is True


def _check_gathers(rank: int) -> None:
    assert get_rank() == rank
    assert get_world_size() == WORLD_SIZE

    local = torch.full((2, 3), float(rank), requires_grad=True)
    gathered = all_gather(local)
    expected = torch.cat([torch.full((2, 3), float(r)) for r in range(WORLD_SIZE)])
    torch.testing.assert_close(gathered.detach(), expected)
    gathered.sum().backward()
    torch.testing.assert_close(local.grad, torch.ones(2, 3))  # only the local slice carries gradient

    local = torch.full((2, 3), float(rank), requires_grad=True)
    weights = torch.arange(WORLD_SIZE * 2 * 3, dtype=torch.float32).reshape(WORLD_SIZE * 2, 3)
    gathered = all_gather_with_grad(local)
    torch.testing.assert_close(gathered.detach(), expected)
    (gathered * weights).sum().backward()
    # Every rank's loss reaches this rank's slice, so its gradient is summed over the ranks.
    torch.testing.assert_close(local.grad, WORLD_SIZE * weights[rank * 2 : rank * 2 + 2])

    width = 2 + 2 * rank  # rank 0: 2 tokens, rank 1: 4 tokens
    tokens = torch.full((1, width, 2), float(rank + 1), requires_grad=True)
    mask = torch.ones(1, width, dtype=torch.bool)
    padded, padded_mask = all_gather_padded(tokens, mask, with_grad=True)
    assert padded.shape == (WORLD_SIZE, 4, 2)
    assert padded_mask.tolist() == [[True, True, False, False], [True, True, True, True]]
    assert padded[0, :2].eq(1.0).all() and padded[0, 2:].eq(0.0).all() and padded[1].eq(2.0).all()
    padded.sum().backward()
    torch.testing.assert_close(tokens.grad, torch.full((1, width, 2), float(WORLD_SIZE)))

    with distributed_evaluation(model=None) as should_run:
        assert should_run is (rank == 0)


def _worker(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    _check_gathers(rank)
    (Path(out) / f"rank{rank}.done").write_text("checked", encoding="utf-8")
    leave_group()  # every rank has checked; skips the gloo teardown (see spawn_helpers)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available in this build")
def test_two_process_gloo_gathers(tmp_path: Path):
    run_ranks(_worker, (str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD_SIZE, timeout=120)
    assert sorted(path.name for path in tmp_path.glob("*.done")) == ["rank0.done", "rank1.done"]
