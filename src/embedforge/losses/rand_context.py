"""RandContext: replay the random state of a forward pass, so dropout draws the same masks a second time."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import torch
from torch.utils.checkpoint import get_device_states, set_device_states

__all__ = ["RandContext"]


class RandContext:
    """Snapshot the CPU and accelerator RNG states now; inside ``with`` the snapshot is the current state.

    The GradCache losses embed each mini-batch twice: once without gradients, then again with gradients in the
    backward pass. Taking a snapshot just before the first pass and entering it around the second makes every
    random draw (dropout masks) identical, so the cached gradients belong to the embeddings they are applied to.
    On exit the RNG states are restored to what they were before ``with``, so replaying does not advance them.

    Args:
        *tensors: The inputs of the forward pass; their CUDA devices (and MPS, if any) are the ones whose RNG is
            saved. Non-tensors are ignored.

    Example:
        >>> import torch
        >>> state = RandContext()
        >>> first = torch.rand(2)
        >>> with state:
        ...     again = torch.rand(2)
        >>> bool(torch.equal(first, again))
        True
    """

    def __init__(self, *tensors: Any) -> None:
        tensors = tuple(value for value in tensors if isinstance(value, torch.Tensor))
        self._cpu_state = torch.get_rng_state()
        uses_mps = any(value.device.type == "mps" for value in tensors)
        self._mps_state = torch.mps.get_rng_state() if uses_mps else None
        others = tuple(value for value in tensors if value.device.type != "mps")
        self._devices, self._device_states = get_device_states(*others)
        self._fork: AbstractContextManager[Any] | None = None
        self._outer_mps_state: torch.Tensor | None = None

    def __enter__(self) -> None:
        self._fork = torch.random.fork_rng(devices=self._devices, enabled=True)
        self._fork.__enter__()
        torch.set_rng_state(self._cpu_state)
        if self._mps_state is not None:
            self._outer_mps_state = torch.mps.get_rng_state()
            torch.mps.set_rng_state(self._mps_state)
        set_device_states(self._devices, self._device_states)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._outer_mps_state is not None:
            torch.mps.set_rng_state(self._outer_mps_state)
            self._outer_mps_state = None
        if self._fork is not None:
            self._fork.__exit__(exc_type, exc, traceback)
            self._fork = None
