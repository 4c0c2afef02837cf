"""Step 3 of the GradCache engine (:mod:`embedforge.losses.cached`): replaying the mini-batches in ``backward``.

The first pass records, per mini-batch, its features, RNG state and the gradient of its embeddings
(:class:`CachedPass`); when the returned loss is back-propagated, :func:`replay` re-embeds each mini-batch with
gradients under the same RNG state and autocast setting and back-propagates its cached gradient into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from embedforge.losses.rand_context import RandContext

if TYPE_CHECKING:
    from embedforge.losses.cached import EmbedFn, GradCacheLoss, MiniBatches
    from embedforge.models.base import Features

__all__ = ["AutocastState", "CachedPass", "backward_surrogate", "gradient_sync", "replay"]


@dataclass
class CachedPass:
    """What the backward hook of one forward pass needs: its inputs, boundaries, RNG states, gradients, autocast."""

    features: list[Features]
    ranges: list[list[tuple[int, int]]]
    random_states: list[list[RandContext]]
    gradients: MiniBatches
    autocast: AutocastState
    embed: EmbedFn


@dataclass(frozen=True)
class AutocastState:
    """The autocast setting the first pass ran under, re-entered for the replay (which runs in ``backward``)."""

    device_type: str
    enabled: bool
    dtype: torch.dtype

    @classmethod
    def current(cls, features: Sequence[Features]) -> AutocastState:
        """The autocast state for the device of the first tensor in ``features`` (CPU if none)."""
        tensors = (value for column in features for value in column.values() if isinstance(value, Tensor))
        device_type = next((tensor.device.type for tensor in tensors), "cpu")
        return cls(device_type, torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type))

    def context(self) -> AbstractContextManager[Any]:
        """``torch.autocast`` as it was during the first pass (nothing if it was off)."""
        if not self.enabled:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def replay(grad_output: Tensor, owner: GradCacheLoss, cached: CachedPass) -> None:
    """Step 3: re-embed each mini-batch with gradients and back-propagate its cached embedding gradient.

    Every mini-batch gets ``grad_output`` (what reached the returned loss: gradient-accumulation division, loss
    scaling…). The replay runs under the autocast setting of the first pass (the trainer's mixed-precision context
    is no longer active during ``backward``). Under DistributedDataParallel, gradients are synchronized only with
    the last mini-batch.
    """
    model = owner.model
    remaining = sum(len(column) for column in cached.ranges)
    with torch.enable_grad(), cached.autocast.context():
        for column, ranges, states, gradients in zip(
            cached.features, cached.ranges, cached.random_states, cached.gradients, strict=True
        ):
            for minibatch, state, gradient in zip(owner._minibatches(column, ranges), states, gradients, strict=True):
                remaining -= 1
                with gradient_sync(model, synchronize=remaining == 0):
                    embeddings = owner.embed_minibatch(
                        minibatch, with_grad=True, random_state=state, embed=cached.embed
                    )
                    if embeddings.requires_grad:
                        backward_surrogate(embeddings, gradient, grad_output)


def backward_surrogate(embeddings: Tensor, gradient: Tensor, grad_output: Tensor) -> None:
    """Back-propagate ``grad_output * gradient`` into ``embeddings`` via ``<embeddings, gradient>`` (at least fp32)."""
    dtype = torch.promote_types(embeddings.dtype, gradient.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    surrogate = torch.dot(embeddings.flatten().to(dtype), gradient.flatten().to(dtype)) * grad_output
    surrogate.backward()


def gradient_sync(model: nn.Module, synchronize: bool) -> AbstractContextManager[Any]:
    """DDP's ``no_sync`` for every replayed mini-batch but the last; nothing for other models."""
    if isinstance(model, DistributedDataParallel) and not synchronize:
        return model.no_sync()
    return nullcontext()
