"""average_loss_gradients over 2 gloo processes: every loss-only gradient becomes the mean over ranks (a rank
without a gradient counts zero), in one collective per dtype; the model's own parameters are left to DDP."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from embedforge.training.distributed import average_loss_gradients
from spawn_helpers import free_port, leave_group, run_ranks

WORLD_SIZE = 2


class _Loss(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.head = nn.Linear(3, 2)
        self.scale = nn.Parameter(torch.ones(4, dtype=torch.float64))


def _gradients(rank: int) -> dict[str, torch.Tensor | None]:
    """Rank-dependent gradients; rank 1 has none for ``scale``."""
    base = float(rank + 1)
    return {
        "head.weight": torch.full((2, 3), base),
        "head.bias": torch.arange(2, dtype=torch.float32) * base,
        "scale": torch.full((4,), 10.0, dtype=torch.float64) if rank == 0 else None,
        "model.weight": torch.full((2, 2), base),
    }


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    loss = _Loss(nn.Linear(2, 2, bias=False))
    for name, parameter in loss.named_parameters():
        parameter.grad = _gradients(rank).get(name)
    calls = []
    original = torch.distributed.all_reduce
    torch.distributed.all_reduce = lambda tensor, *a, **k: calls.append(tensor.dtype) or original(tensor, *a, **k)
    average_loss_gradients(loss, loss.model)
    torch.distributed.all_reduce = original
    grads = {name: p.grad for name, p in loss.named_parameters()}
    torch.save({"grads": grads, "calls": calls}, Path(out) / f"rank{rank}.pt")
    leave_group()  # every rank has saved; skips the gloo teardown (see spawn_helpers)


def test_loss_gradients_become_the_mean_over_ranks(tmp_path: Path) -> None:
    run_ranks(_worker, (free_port(), str(tmp_path)), nprocs=WORLD_SIZE, timeout=120)
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    for rank, result in enumerate(results):
        grads = result["grads"]
        torch.testing.assert_close(grads["head.weight"], torch.full((2, 3), 1.5))
        torch.testing.assert_close(grads["head.bias"], torch.tensor([0.0, 1.5]))
        torch.testing.assert_close(grads["scale"], torch.full((4,), 5.0, dtype=torch.float64))
        torch.testing.assert_close(grads["model.weight"], torch.full((2, 2), float(rank + 1)))  # DDP's, untouched
        assert sorted(map(str, result["calls"])) == ["torch.float32", "torch.float64"]  # one per dtype
