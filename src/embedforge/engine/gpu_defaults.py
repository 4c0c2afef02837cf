"""Training defaults for CUDA: bf16 autocast, non-blocking copies from pinned memory, DataLoader workers.

transformers' defaults suit any device; on a GPU three of them leave speed unused. When training runs on CUDA and
the user left a setting at its default, :func:`apply_gpu_defaults` changes it:

- ``bf16=True`` when the card supports bf16 and neither ``fp16`` nor ``bf16`` is set: the forward and backward
  run under bf16 autocast while the weights, gradients and optimizer state stay float32 (master weights).
- ``accelerator_config.non_blocking=True`` when ``dataloader_pin_memory`` is on: batches in pinned memory are
  copied to the device asynchronously, overlapping the copy with the work already queued.
- ``dataloader_num_workers`` from 0 to ``min(4, available cores // 2)`` (shared among the processes of one host
  under torchrun), with persistent workers and ``prefetch_factor=2``: batches are tokenized and collated in worker
  processes while the GPU runs the current step, and each worker keeps its token cache across epochs.

A setting counts as "left at its default" when it equals its dataclass field's default: an explicit
``bf16=False`` cannot be told apart from no value, so ``gpu_defaults=False`` (a training argument) turns all of this
off. Nothing changes on CPU, MPS or other devices.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from embedforge.training.arguments import BaseTrainingArguments

__all__ = ["apply_gpu_defaults"]

MAX_WORKERS = 4
"""Most DataLoader workers the defaults start per training process."""
PREFETCH_FACTOR = 2
"""Batches each worker prepares ahead."""


def apply_gpu_defaults(
    args: BaseTrainingArguments,
    model: nn.Module,
    *,
    datasets: Iterable[Any] = (),
    data_collator: Callable[..., Any] | None = None,
) -> list[str]:
    """Turn on bf16, non-blocking copies and DataLoader workers for CUDA training, where left at their defaults.

    Changes ``args`` in place. Call once, before transformers' Trainer reads ``args``.

    Args:
        args: The training arguments; nothing changes unless ``args.gpu_defaults`` and ``args.device`` is CUDA.
        model: The model to train: bf16 autocast is only turned on over float32 weights.
        datasets: The training and evaluation datasets the DataLoaders will read.
        data_collator: The collator the user passed, or None for the family's own.

    Returns:
        One human-readable line per change (empty when nothing changed).
    """
    if not args.gpu_defaults or args.device.type != "cuda":
        return []
    rules = (
        _bf16(args, model),
        _non_blocking(args),
        _workers(args, list(datasets), data_collator),
    )
    return [line for line in rules if line is not None]


def _bf16(args: BaseTrainingArguments, model: nn.Module) -> str | None:
    """``bf16=True`` (autocast over float32 weights) when the card supports it and no precision was chosen.

    Left alone under DeepSpeed (its config decides the precision), when ``ACCELERATE_MIXED_PRECISION`` chose one,
    and when the model's weights are not float32 (no float32 master weights to autocast over).
    """
    chosen = not (_at_default(args, "bf16") and _at_default(args, "fp16")) or args.mixed_precision != "no"
    if chosen or args.deepspeed or not torch.cuda.is_bf16_supported() or not _float32_weights(model):
        return None
    args.bf16 = True
    args.mixed_precision = "bf16"  # what transformers' Trainer hands to accelerate (derived in __post_init__)
    return (
        "bf16 autocast on (the card supports it; weights and optimizer state stay float32; fp16=True for fp16, "
        "gpu_defaults=False for full float32)"
    )


def _non_blocking(args: BaseTrainingArguments) -> str | None:
    """``accelerator_config.non_blocking=True`` when batches are in pinned memory (else copies block anyway)."""
    from transformers.trainer_pt_utils import AcceleratorConfig

    config = args.accelerator_config
    if not args.dataloader_pin_memory or not isinstance(config, AcceleratorConfig):
        return None
    if config.non_blocking != _field_default(AcceleratorConfig, "non_blocking"):
        return None
    args.accelerator_config = dataclasses.replace(config, non_blocking=True)  # the user's object stays unchanged
    return "non-blocking host-to-device copies on (batches are in pinned memory; gpu_defaults=False to turn off)"


def _workers(args: BaseTrainingArguments, datasets: list[Any], data_collator: Callable[..., Any] | None) -> str | None:
    """``dataloader_num_workers`` from 0 to a few, with persistent workers and prefetching; see :func:`_can_fork`.

    Left at 0 when the user passed a collator, or a dataset has a transform (``set_transform``/``with_transform``)
    or is not a ``datasets.Dataset``: those run in the workers, and code written for the main process may not
    survive the move: it may use the GPU (a teacher model computing labels; CUDA cannot be used in a forked
    process), hold state the main process updates (the workers keep a copy), or not be picklable (spawn).
    The family's own collator only tokenizes, on the CPU, with a picklable token cache.
    """
    if not _at_default(args, "dataloader_num_workers") or data_collator is not None or not datasets:
        return None
    if not all(_plain_dataset(dataset) for dataset in datasets) or not _can_fork():
        return None
    local_processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    workers = min(MAX_WORKERS, _available_cpus() // 2 // local_processes)
    if workers < 1:
        return None
    args.dataloader_num_workers = workers
    if _at_default(args, "dataloader_persistent_workers"):
        args.dataloader_persistent_workers = True
    if _at_default(args, "dataloader_prefetch_factor"):
        args.dataloader_prefetch_factor = PREFETCH_FACTOR
    return (
        f"dataloader_num_workers 0 -> {workers} (persistent: {args.dataloader_persistent_workers}, "
        f"prefetch_factor {args.dataloader_prefetch_factor}): batches are tokenized and collated while the GPU runs "
        "the step; gpu_defaults=False keeps them in the training loop"
    )


def _can_fork() -> bool:
    """Whether DataLoader workers start by ``fork``.

    With ``spawn`` or ``forkserver`` every worker unpickles the collator, and the family's collator holds the model
    (its ``tokenize``): each worker would load the model's CUDA weights and open its own CUDA context.
    """
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return method == "fork"


def _plain_dataset(dataset: Any) -> bool:
    """Whether ``dataset`` is a ``datasets.Dataset`` without a transform (``set_transform``/``with_transform``)."""
    from datasets import Dataset

    return isinstance(dataset, Dataset) and dataset.format["format_kwargs"].get("transform") is None


def _available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _float32_weights(model: nn.Module) -> bool:
    """Whether every floating-point parameter of ``model`` is float32."""
    return all(parameter.dtype == torch.float32 for parameter in model.parameters() if parameter.is_floating_point())


def _at_default(args: Any, name: str) -> bool:
    """Whether the dataclass field ``name`` of ``args`` still holds its declared default."""
    return getattr(args, name) == _field_default(type(args), name)


def _field_default(cls: type, name: str) -> Any:
    """The declared default of the dataclass field ``name`` of ``cls``."""
    field = next(field for field in dataclasses.fields(cls) if field.name == name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default
