"""A training step of the default engine reads nothing back from the device but the non-finite loss check.

On a GPU every read of a tensor's value on the host (``.item()``, ``bool()``, ``nonzero``, ``torch.equal``, a
``repeat_interleave`` without its output size) waits for the device to finish the work queued before it. The step
is run here on the CPU under a dispatch mode that records such ops with the code that asked for them: the packed
forward (layouts made by the collator on the host), the losses and the cached losses' mini-batch cuts must ask for
none; the one expected read is the non-finite loss check before the backward pass (``training/nonfinite.py``).
"""

from __future__ import annotations

import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import transformers
from torch.utils._python_dispatch import TorchDispatchMode

import embedforge
from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.losses import CachedMultipleNegativesRankingLoss, CoSENTLoss, MultipleNegativesRankingLoss
from embedforge.models import packing
from helpers import caption_pairs, short_run_arguments, stsb_scored

PACKAGES = (str(Path(embedforge.__file__).parent), str(Path(transformers.__file__).parent))
READS = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select", "aten::equal", "aten::is_nonzero"}


class HostReads(TorchDispatchMode):
    """Counts the ops that read a tensor's value on the host, by the innermost embedforge/transformers frame."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = func._schema.name
        if name in READS or (name == "aten::repeat_interleave" and kwargs.get("output_size") is None):
            frames = [
                f for f in traceback.extract_stack() if "/embedforge/" in f.filename or "/transformers/" in f.filename
            ]
            self.sites[f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "?"] += 1
        return func(*args, **kwargs)


@pytest.mark.parametrize("loss_name", ["mnrl", "cosent", "cached-mnrl"])
def test_a_training_step_reads_only_the_loss_check(
    loss_name: str, tiny_bert_path: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packing, "VARLEN_ATTENTION", "grid")  # nested on CPU is torch's per-text math kernel
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    if loss_name == "cosent":
        data, loss = stsb_scored(shared_data, 32), CoSENTLoss(model)
    elif loss_name == "mnrl":
        data, loss = caption_pairs(shared_data, 32), MultipleNegativesRankingLoss(model)
    else:
        data, loss = caption_pairs(shared_data, 32), CachedMultipleNegativesRankingLoss(model, mini_batch_size=4)
    args = short_run_arguments(tmp_path, 2, per_device_train_batch_size=16)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss)
    trainer.create_optimizer_and_scheduler(num_training_steps=2)
    trainer.current_gradient_accumulation_steps = 1  # set by transformers' training loop
    model.train()
    batches = iter(trainer.get_train_dataloader())
    trainer.training_step(model, next(batches))
    reads = HostReads()
    with reads:
        trainer.training_step(model, next(batches))
    assert dict(reads.sites) == {"nonfinite.py:_any_rank": 1}
