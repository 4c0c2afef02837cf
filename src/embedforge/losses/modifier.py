"""Shared parts of the loss modifiers (MatryoshkaLoss, AdaptiveLayerLoss): wrapping a loss, reaching the model.

A modifier runs its wrapped loss several times per batch (once per truncated dimension, once per layer) and
reuses one forward pass for all of them by temporarily replacing a module's ``forward`` with a caching callable,
the way sentence-transformers does. :func:`replaced_forward` does that replacement and always undoes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.cached import CachedLoss

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = [
    "ANY_INPUTS",
    "LossModifier",
    "innermost_cached_loss",
    "replaced_forward",
    "unwrap_model",
    "uses_gradient_cache",
]

ANY_INPUTS = InputSpec(min_texts=1, max_texts=None, label=LabelKind.ANY, description="whatever the wrapped loss takes")
"""The input declaration of a modifier whose wrapped loss declares none (a plain ``nn.Module``)."""


def uses_gradient_cache(loss: nn.Module) -> bool:
    """Whether ``loss`` back-propagates into the model from a hook on the loss it returns (GradCache).

    True for an active :class:`~embedforge.losses.cached.CachedLoss` and for modifiers wrapping one.
    """
    if isinstance(loss, CachedLoss):
        return bool(loss.uses_gradient_cache)
    if isinstance(loss, LossModifier):
        return uses_gradient_cache(loss.loss)
    return False


def innermost_cached_loss(loss: nn.Module) -> CachedLoss:
    """The :class:`~embedforge.losses.cached.CachedLoss` inside ``loss`` and its modifiers.

    Raises:
        TypeError: If there is none.
    """
    inner = loss
    while isinstance(inner, LossModifier):  # e.g. MatryoshkaLoss(CachedMultipleNegativesRankingLoss)
        inner = inner.loss
    if not isinstance(inner, CachedLoss):
        raise TypeError(f"Expected a CachedLoss inside {type(loss).__name__}, found {type(inner).__name__}.")
    return inner


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / DataParallel / ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, (DistributedDataParallel, DataParallel)):
            model = model.module
        elif _is_compiled(model):
            model = model._orig_mod
        else:
            return model


def _is_compiled(model: nn.Module) -> bool:
    dynamo = sys.modules.get("torch._dynamo.eval_frame")  # only present once torch.compile was used
    return dynamo is not None and isinstance(model, dynamo.OptimizedModule)


@contextmanager
def replaced_forward(module: nn.Module, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[Any]:
    """Within the block, ``module(...)`` calls ``make(current_forward)`` instead of ``module.forward``.

    Replacements nest (the inner one receives the outer replacement as its ``current_forward``) and the previous
    ``forward`` is restored on exit, also on errors.

    Args:
        module: The module whose forward is replaced.
        make: Builds the replacement from the forward it wraps.

    Yields:
        The replacement, so that the caller can steer it (e.g. choose a dimension or a layer).
    """
    had_own = "forward" in module.__dict__
    previous = module.__dict__.get("forward")
    replacement = make(module.forward)
    module.forward = replacement
    try:
        yield replacement
    finally:
        if had_own:
            module.forward = previous
        else:
            del module.forward


class LossModifier(Loss):
    """A loss that wraps another one: it accepts the same inputs and runs it (several times) per batch.

    Args:
        model: The model being trained (the wrapped loss's model).
        loss: The wrapped loss.
    """

    def __init__(self, model: EmbeddingModel, loss: nn.Module) -> None:
        super().__init__(model)
        self.loss = loss

    @property
    def input_spec(self) -> InputSpec:  # type: ignore[override]
        """The wrapped loss's declaration (anything, for a loss that declares none)."""
        return self.loss.input_spec if isinstance(self.loss, Loss) else ANY_INPUTS

    @property
    def base_model(self) -> nn.Module:
        """The model without distributed/compile wrappers: the one whose forward the modifier replaces."""
        return unwrap_model(self.model)
