"""What training does with a NaN or infinite loss: stop with a clear error, or skip the batch and count it.

The check runs on every training batch, after the loss is computed and before its backward pass, so a bad batch
never reaches the weights: with ``nonfinite_loss="error"`` (the default) training stops with a
:class:`NonFiniteLossError` naming the step, the batch's dataset and the loss value, and the checkpoints already on
disk are the last good ones; with ``nonfinite_loss="skip"`` the batch gets no backward pass (its gradients are
never formed, so an optimizer step made only of skipped batches leaves every weight untouched) and the running
count is logged as ``nonfinite_loss_skipped``. Under torch.distributed every rank learns whether any rank's loss
was non-finite (one scalar all-reduce per batch), so all ranks stop or skip together instead of hanging.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from embedforge.training.base_trainer import BaseTrainer

__all__ = [
    "NONFINITE_LOSS_POLICIES",
    "SKIPPED_KEY",
    "NonFiniteLossError",
    "check_loss",
    "check_nonfinite_policy",
    "skipped_batches",
]

logger = logging.getLogger(__name__)

NONFINITE_LOSS_POLICIES = ("error", "skip")
"""Values of the ``nonfinite_loss`` training argument."""
SKIPPED_KEY = "nonfinite_loss_skipped"
"""The log key of the running count of skipped batches (in ``trainer.state.log_history``)."""


class NonFiniteLossError(FloatingPointError):
    """The training loss of a batch was NaN or infinite; training stopped before that batch changed the weights."""


def check_nonfinite_policy(policy: str) -> None:
    """Raise a ValueError naming the choices when ``policy`` is not one of :data:`NONFINITE_LOSS_POLICIES`."""
    if policy not in NONFINITE_LOSS_POLICIES:
        raise ValueError(
            f"nonfinite_loss expects one of {list(NONFINITE_LOSS_POLICIES)}, got {policy!r}. Use 'error' to stop "
            "on a NaN/inf loss (the default) or 'skip' to skip such batches."
        )


def check_loss(trainer: BaseTrainer, loss: torch.Tensor, inputs: dict[str, Any], dataset: str) -> torch.Tensor:
    """Pass a finite training loss through; stop on, or skip, a non-finite one.

    Args:
        trainer: The trainer (its ``args.nonfinite_loss``, ``state`` and ``log``).
        loss: The batch's loss, a scalar tensor ``()``.
        inputs: The collated batch (its ``label`` is looked at for the message).
        dataset: The name of the batch's dataset.

    Returns:
        ``loss`` when it is finite on every rank; else (policy ``skip``) a detached copy made a fresh leaf, whose
        backward pass reaches no parameter.

    Raises:
        NonFiniteLossError: Policy ``error``: naming the step, the dataset, the value and the last checkpoint.
    """
    import torch

    bad = ~torch.isfinite(loss.detach()).all()
    if _any_rank(bad):
        if trainer.args.nonfinite_loss == "skip":
            return _skip(trainer, loss, dataset)
        raise NonFiniteLossError(_message(trainer, loss, inputs, dataset, local=bool(bad)))
    return loss


def skipped_batches(log_history: list[dict[str, Any]]) -> int:
    """The number of batches skipped for a non-finite loss, from ``state.log_history`` (0 when none)."""
    return next((int(row[SKIPPED_KEY]) for row in reversed(log_history) if SKIPPED_KEY in row), 0)


def _any_rank(bad: torch.Tensor) -> bool:
    """Whether ``bad`` is true on any rank (this rank's value outside torch.distributed)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return bool(bad)
    flag = bad.to(torch.float32).reshape(1)  # gloo and nccl both reduce float32
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)


def _skip(trainer: BaseTrainer, loss: torch.Tensor, dataset: str) -> torch.Tensor:
    count = skipped_batches(trainer.state.log_history) + 1
    logger.warning(
        "Skipping a batch of dataset %r at step %d: non-finite loss %s (nonfinite_loss='skip'; %d skipped so far).",
        dataset,
        trainer.state.global_step + 1,
        _value(loss),
        count,
    )
    trainer.log({SKIPPED_KEY: float(count)})
    return loss.detach().clone().requires_grad_(True)


def _value(loss: torch.Tensor) -> str:
    return str(float(loss.detach().float().reshape(-1)[0])) if loss.numel() else "(empty)"


def _message(trainer: BaseTrainer, loss: torch.Tensor, inputs: dict[str, Any], dataset: str, local: bool) -> str:
    from transformers.trainer_utils import get_last_checkpoint

    step = trainer.state.global_step + 1
    found = (
        f"loss {_value(loss)}" if local else f"a finite loss here ({_value(loss)}) but a non-finite one on another rank"
    )
    hint = _label_hint(inputs)
    folder = trainer.args.output_dir
    last = get_last_checkpoint(folder) if folder and Path(folder).is_dir() else None
    kept = (
        f"The last checkpoint, {last}, was saved before this batch and is intact: resume from it once fixed."
        if last
        else "No checkpoint had been saved yet; nothing on disk was changed."
    )
    return (
        f"Non-finite training loss at step {step} (optimizer steps done: {trainer.state.global_step}) on a batch of "
        f"dataset {dataset!r}: {found}.{hint} Training stopped before this batch changed the weights. {kept} Fix: "
        "look for NaN/inf labels or empty texts in that dataset, lower the learning rate or turn off fp16, or pass "
        "nonfinite_loss='skip' to skip such batches (they are counted in the logs as "
        f"{SKIPPED_KEY!r})."
    )


def _label_hint(inputs: dict[str, Any]) -> str:
    import torch

    label = inputs.get("label")
    if not isinstance(label, torch.Tensor) or not label.is_floating_point():
        return ""
    bad = int((~torch.isfinite(label)).sum())
    return f" The batch's labels hold {bad} NaN/inf value(s)." if bad else ""
