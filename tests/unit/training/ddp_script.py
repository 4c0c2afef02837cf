"""A training script for the real launcher: ``torchrun --nproc_per_node 2 ddp_script.py OUT``.

Trains the tiny bi-encoder of ``ddp_workers`` with SentenceTransformerTrainer and saves what this rank saw as
``OUT/rank<r>.pt``, then leaves without tearing the process group down (``spawn_helpers.leave_group``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from ddp_workers import PER_DEVICE_BATCH, train_bi_encoder

from spawn_helpers import leave_group

if __name__ == "__main__":
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    model, trainer = train_bi_encoder(out / "run", PER_DEVICE_BATCH)
    result = {
        "world_size": dist.get_world_size() if dist.is_initialized() else 1,
        "state": {name: value.detach().clone() for name, value in model.state_dict().items()},
        "global_step": trainer.state.global_step,
    }
    torch.save(result, out / f"rank{trainer.args.process_index}.pt")
    if dist.is_initialized():
        leave_group()  # not the process group's teardown at exit, which can abort on torch 2.13 (spawn_helpers)
