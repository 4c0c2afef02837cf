"""CrossEncoderTrainer under DDP: 2 gloo ranks x batch B equal 1 process x batch 2B (BCE loss, dropout off).

The cross-encoder's losses call ``model.preprocess`` and ``model.device``, which a DDP wrapper does not have: the
trainer keeps the bare model in the losses and only routes the forward pass through the wrapper.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from ddp_workers import PER_DEVICE_BATCH, WORLD_SIZE, cross_encoder_worker, spawn, train_cross_encoder

from embedforge.cross_encoder import CrossEncoder
from model_builders import build_tiny_classifier


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path: Path) -> None:
    model_path = str(build_tiny_classifier(tmp_path / "tiny-ce"))
    spawn(cross_encoder_worker, model_path, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    model = train_cross_encoder(model_path, tmp_path / "single", PER_DEVICE_BATCH * WORLD_SIZE)
    expected = model.state_dict()
    initial = CrossEncoder(model_path, device="cpu").state_dict()
    assert any(not torch.allclose(value, expected[name]) for name, value in initial.items())  # it trained
    assert ranks[0].keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(ranks[1][name], ranks[0][name], atol=0, rtol=0, msg=name)
        torch.testing.assert_close(ranks[0][name], value, atol=1e-5, rtol=0, msg=name)
