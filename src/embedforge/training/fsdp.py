"""FSDP (transformers' ``fsdp`` / ``fsdp_config``): checked before step 1, saved as the full model in ST format.

transformers' Trainer hands the ``fsdp_config`` to accelerate, which shards the model with FSDP2 (``fully_shard``,
the default ``fsdp_config["version"] = 2``) only on accelerator backends (CUDA, XPU, NPU, HPU, MLU, SDAA, MUSA,
Neuron). On CPU processes (the gloo backend) accelerate keeps its ``MULTI_CPU`` mode and silently drops the FSDP
plugin: the run would train with DDP instead. :func:`check_fsdp` turns that into a clear error before step 1.

When FSDP is active and ``state_dict_type`` is ``FULL_STATE_DICT`` (the default), the Trainer gathers the full
weights and passes them to ``_save``; :func:`full_weights` makes the model's own save write those, so checkpoints
and the final model are complete sentence-transformers folders that load without FSDP. A ``SHARDED_STATE_DICT``
save would write only per-rank shards through accelerate, never an ST folder, so it is refused up front too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = ["FSDPConfigurationError", "check_fsdp", "check_fsdp_arguments", "check_trainer_fsdp", "full_weights"]

FSDP_DOCS = "docs/distributed.md, section FSDP"


class FSDPConfigurationError(ValueError):
    """The training arguments ask for FSDP in a way this run cannot honour."""


def check_fsdp(requested: bool, distributed_type: str, device: str, state_dict_type: str | None) -> None:
    """Refuse an FSDP request that would be ignored, or whose checkpoints would not be ST folders.

    Args:
        requested: Whether the training arguments enable FSDP (``fsdp`` set).
        distributed_type: accelerate's ``DistributedType`` of the run (e.g. ``"FSDP"``, ``"MULTI_CPU"``, ``"NO"``).
        device: The device the run trains on (e.g. ``"cpu"``, ``"cuda:0"``).
        state_dict_type: The FSDP plugin's ``state_dict_type`` when FSDP is active, else None.

    Raises:
        FSDPConfigurationError: If FSDP was asked for but accelerate did not enable it, or it saves sharded
            state dicts.
    """
    if not requested:
        return
    kind = distributed_type.rsplit(".", 1)[-1]
    if kind != "FSDP":
        raise FSDPConfigurationError(
            f"The training arguments enable FSDP (fsdp / fsdp_config), but accelerate set this run up as "
            f"distributed_type={kind} on device {device!r}, so FSDP would be silently skipped"
            + (
                ": accelerate enables FSDP only on accelerator backends (CUDA, XPU, NPU, HPU, ...), never for CPU "
                "processes (gloo)"
                if device.startswith("cpu")
                else ": FSDP needs a distributed launch (torchrun / accelerate launch)"
            )
            + ". Fix: launch on GPUs with `torchrun --nproc_per_node N train.py` (or `accelerate launch`), or drop "
            f"fsdp/fsdp_config to train with DDP, which needs no change to the script. See {FSDP_DOCS}."
        )
    if state_dict_type is not None and "FULL_STATE_DICT" not in state_dict_type:
        raise FSDPConfigurationError(
            f"fsdp_config state_dict_type is {state_dict_type.rsplit('.', 1)[-1]}, which saves per-rank shards that "
            "are not a sentence-transformers folder. Fix: set fsdp_config={'state_dict_type': 'FULL_STATE_DICT'} "
            "(the default), so checkpoints and the final model hold the full weights."
        )


def check_fsdp_arguments(args: Any) -> None:
    """Refuse FSDP on CPU or without a distributed launch, from the arguments alone (before Trainer.__init__).

    transformers would otherwise stop a one-process run with a bare "fsdp only works in distributed training",
    and let a multi-process CPU run train with DDP.

    Args:
        args: The training arguments (``fsdp``, ``parallel_mode``, ``device`` are read).

    Raises:
        FSDPConfigurationError: See :func:`check_fsdp`.
    """
    if not args.fsdp:
        return
    from transformers.training_args import ParallelMode

    distributed = args.parallel_mode == ParallelMode.DISTRIBUTED
    device = str(args.device)
    if distributed and not device.startswith("cpu"):
        return  # accelerate decides; check_trainer_fsdp verifies what it chose
    check_fsdp(True, "MULTI_CPU" if distributed else "NO", device, None)


def check_trainer_fsdp(args: Any, accelerator: Any) -> None:
    """:func:`check_fsdp` for a transformers Trainer's arguments and accelerator (called in ``__init__``).

    Args:
        args: The training arguments (``fsdp`` is read).
        accelerator: The Trainer's ``accelerate.Accelerator``.

    Raises:
        FSDPConfigurationError: See :func:`check_fsdp`.
    """
    state = accelerator.state
    plugin = getattr(state, "fsdp_plugin", None)
    check_fsdp(
        bool(args.fsdp),
        str(state.distributed_type),
        str(state.device),
        None if plugin is None else str(plugin.state_dict_type),
    )


@contextmanager
def full_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor] | None) -> Iterator[None]:
    """Within the block, ``model``'s parameters and buffers are the tensors of ``state_dict``.

    Under FSDP the model's own tensors are shards (DTensors); the Trainer gathers the full ones into
    ``state_dict`` before saving. Swapping them in lets every module's save (``save_pretrained``, safetensors)
    write the full weights. Nothing is swapped when ``state_dict`` is None or empty (nothing was gathered on
    this rank).

    Args:
        model: The model about to be saved.
        state_dict: Full tensors keyed as in ``model.state_dict()``, or None.

    Yields:
        Nothing; the original tensors are back after the block.

    Raises:
        ValueError: If ``state_dict`` names tensors the model does not have.
    """
    if not state_dict:
        yield
        return
    from torch.nn.utils.stateless import _reparametrize_module

    unknown = sorted(set(state_dict) - set(model.state_dict()))
    if unknown:
        raise ValueError(
            f"The state dict to save names {len(unknown)} tensor(s) the model does not have, e.g. {unknown[:3]}. "
            "It must come from this model (Trainer.save_model gathers it under FSDP)."
        )
    with _reparametrize_module(model, dict(state_dict), tie_weights=True, strict=False):
        yield
