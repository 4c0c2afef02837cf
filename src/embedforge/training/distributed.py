"""What the trainer does differently when several processes train one model (``torchrun``, ``accelerate launch``).

transformers' Trainer wraps the model in ``DistributedDataParallel`` (DDP) and shards the batches; three things
are left to the model family's trainer, and live here:

- the losses hold the bare model, but their forward passes must go through the DDP wrapper, or the gradients are
  never averaged across ranks (:func:`route_forward`);
- parameters a loss owns (e.g. ``SoftmaxLoss``'s classifier) are outside the wrapper: their gradients are averaged
  here (:func:`average_loss_gradients`), and cleared after each step as the model's are
  (:class:`ClearLossGradients`);
- an evaluator runs once, on rank 0, and every rank receives its metrics (:func:`evaluate_once`), so decisions
  taken from them (best checkpoint, early stopping) agree across ranks.

With one process every helper is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn
from transformers import TrainerCallback

from embedforge.util.distributed import distributed_evaluation, get_rank, get_world_size

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

__all__ = [
    "ClearLossGradients",
    "average_loss_gradients",
    "broadcast_from_main",
    "evaluate_once",
    "loss_only_parameters",
    "route_forward",
]


@contextmanager
def route_forward(model: nn.Module, wrapper: nn.Module) -> Iterator[None]:
    """Inside the block, calling ``model`` runs ``wrapper`` (e.g. its DDP wrapper), which runs ``model``.

    Losses keep the bare model (its ``tokenize``, ``preprocess``, ``device``, indexing and type stay as they are);
    only its forward pass is sent through the wrapper, which is what DDP needs to average the gradients. The
    wrapper's own call of the model runs the real forward. Outside the block nothing is changed.

    Note:
        Forward hooks registered on ``model`` itself (not on its submodules) run twice per call inside the block:
        once for the outer call and once for the wrapper's.

    Args:
        model: The bare model the losses hold.
        wrapper: The module transformers' Trainer trains (``trainer.model_wrapped``); ``model`` itself is a no-op.

    Yields:
        Nothing.
    """
    if wrapper is model:
        yield
        return
    had_own_forward = "forward" in vars(model)  # e.g. accelerate's mixed-precision forward
    own_forward = vars(model).get("forward")
    real_forward = model.forward
    inside_wrapper = False

    def forward(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside_wrapper
        if inside_wrapper:
            return real_forward(*args, **kwargs)
        inside_wrapper = True
        try:
            return wrapper(*args, **kwargs)
        finally:
            inside_wrapper = False

    model.forward = forward
    try:
        yield
    finally:
        if had_own_forward:
            model.forward = own_forward
        else:
            del model.forward


def loss_only_parameters(losses: nn.Module | dict[str, nn.Module], model: nn.Module) -> list[nn.Parameter]:
    """Trainable parameters of the losses that are not the model's (loss heads, projections).

    Args:
        losses: One loss or a ``{dataset name: loss}`` dict.
        model: The bare model being trained.

    Returns:
        The parameters, each once, in module order.
    """
    own = {id(parameter) for parameter in model.parameters()}
    found: dict[int, nn.Parameter] = {}
    for loss in losses.values() if isinstance(losses, dict) else [losses]:
        for parameter in loss.parameters():
            if parameter.requires_grad and id(parameter) not in own:
                found.setdefault(id(parameter), parameter)
    return list(found.values())


def average_loss_gradients(losses: nn.Module | dict[str, nn.Module], model: nn.Module) -> None:
    """Average the gradients of the losses' own parameters across ranks (DDP averages only the model's).

    Call it on every rank after the last backward pass of an optimizer step. A parameter without a gradient on
    this rank (its loss was not used) counts as a zero gradient, so every rank takes part in the same collectives.

    Args:
        losses: One loss or a ``{dataset name: loss}`` dict.
        model: The bare model being trained.
    """
    world_size = get_world_size()
    if world_size == 1:
        return
    parameters = list(loss_only_parameters(losses, model))
    if not parameters:
        return
    for parameter in parameters:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for parameter in parameters:  # same order on every rank: the parameters come from the same losses
        groups.setdefault((parameter.grad.dtype, parameter.grad.device), []).append(parameter.grad)
    for grads in groups.values():  # one collective per dtype and device, not one per parameter
        flat = torch.cat([grad.reshape(-1) for grad in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(world_size)
        for grad, part in zip(grads, flat.split([grad.numel() for grad in grads]), strict=True):
            grad.copy_(part.view_as(grad))


class ClearLossGradients(TrainerCallback):
    """Clear every gradient the optimizer holds (the losses' own parameters too) at the start and after each step.

    transformers' Trainer clears the model's gradients only; without this, the gradients of a loss head would
    add up over all steps.
    """

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Start without leftover gradients."""
        _zero(kwargs.get("optimizer"))

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """Clear the gradients of the step just taken."""
        _zero(kwargs.get("optimizer"))


def _zero(optimizer: torch.optim.Optimizer | None) -> None:
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)


def broadcast_from_main(value: Any) -> Any:
    """``value`` as rank 0 has it, on every rank (a picklable object); ``value`` itself with one process."""
    if get_world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def evaluate_once(
    evaluator: Callable[..., Any], model: nn.Module, output_dir: str, state: TrainerState, enabled: bool = True
) -> dict[str, Any]:
    """Run an evaluator on rank 0 only and give its metrics to every rank.

    Rank 0 writes the evaluator's files into ``<output_dir>/eval``; the other ranks wait, then receive its
    metrics, so every rank logs and decides (best checkpoint, early stopping) from the same numbers.

    Args:
        evaluator: Called as ``evaluator(model, output_path=..., epoch=..., steps=...)``.
        model: The bare model to evaluate.
        output_dir: The run's output folder.
        state: The trainer's state; its ``epoch`` and ``global_step`` are passed to the evaluator.
        enabled: False runs the evaluator on every rank, each without an output folder except rank 0's (needed
            when every rank must take part in the forward pass, e.g. a sharded FSDP model).

    Returns:
        The evaluator's metrics (a single value becomes ``{"evaluator": value}``), the same on every rank.
    """
    metrics: Any = {}
    with distributed_evaluation(model, enabled=enabled) as this_rank_runs:
        if this_rank_runs:
            output_path = None
            if get_rank() == 0:
                output_path = os.path.join(output_dir, "eval")
                os.makedirs(output_path, exist_ok=True)
            metrics = evaluator(model, output_path=output_path, epoch=state.epoch, steps=state.global_step)
            if not isinstance(metrics, dict):
                metrics = {"evaluator": metrics}
    return broadcast_from_main(metrics) if enabled else metrics
