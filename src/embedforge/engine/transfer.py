"""Host-to-device copies that do not make the host wait for the device (pinned memory, ``non_blocking``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import torch
from torch import Tensor

if TYPE_CHECKING:
    from embedforge.engine.varlen import VarlenLayout

__all__ = ["host_to_device", "pins_memory"]

MovableT = TypeVar("MovableT", Tensor, "VarlenLayout")
"""What moves: tensors and the packed layouts that GPU batches carry (see ``engine.varlen``)."""


def pins_memory(device: torch.device) -> bool:
    """Whether host->``device`` copies go through pinned memory: for CUDA devices only."""
    return device.type == "cuda"


def host_to_device(value: MovableT, device: torch.device, pin: bool = False) -> MovableT:
    """``value`` (a tensor or a packed layout) on ``device``; with ``pin``, sent from pinned memory, ``non_blocking``.

    With ``pin``, a value on the CPU is first copied to page-locked memory: the copy is then queued on the current
    stream (kernels queued after it see the data) and the host does not wait for the device, where a plain copy
    from pageable memory waits for the stream to drain. PyTorch keeps the pinned buffer alive until the copy ends.
    """
    if pin and value.device.type == "cpu":
        return value.pin_memory().to(device, non_blocking=True)
    return value.to(device)
