"""Training arguments: transformers' TrainingArguments plus the options every model family shares."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

import torch
from transformers import TrainingArguments

from embedforge.engine.buckets import check_pad_multiple
from embedforge.training.nonfinite import check_nonfinite_policy

logger = logging.getLogger(__name__)


class BatchSamplers(str, Enum):
    """How a dataset's rows are grouped into batches.

    - ``BATCH_SAMPLER``: random batches (default).
    - ``NO_DUPLICATES``: no text appears twice in a batch (recommended for in-batch-negative losses such as MNRL,
      where a duplicate would be a false negative).
    - ``NO_DUPLICATES_HASHED``: the same, comparing precomputed hashes (less memory on large datasets).
    - ``GROUP_BY_LABEL``: several rows of each label per batch (for the batch triplet losses).
    """

    BATCH_SAMPLER = "batch_sampler"
    NO_DUPLICATES = "no_duplicates"
    NO_DUPLICATES_HASHED = "no_duplicates_hashed"
    GROUP_BY_LABEL = "group_by_label"


class MultiDatasetBatchSamplers(str, Enum):
    """How batches of several datasets are interleaved (every batch comes from one dataset).

    - ``ROUND_ROBIN``: one batch of each dataset in turn, until the smallest is exhausted.
    - ``PROPORTIONAL``: datasets drawn in proportion to their size; every batch of every dataset is used (default).
    """

    ROUND_ROBIN = "round_robin"
    PROPORTIONAL = "proportional"


def _parse_prompts(value: Any) -> Any:
    """A JSON string becomes what it encodes; any other string is one prompt for every column."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _parse_mapping(value: Any, name: str, expected: str) -> Any:
    """``None`` becomes ``{}``; a string must be a JSON object (the command line form)."""
    if value is None:
        return {}
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{name} expects {expected} (a dict, or the same as a JSON string), got the string {value!r} which "
            f"is not valid JSON: {error}. Pass e.g. '{{\"anchor\": ...}}'."
        ) from error
    if not isinstance(parsed, dict):
        raise ValueError(f"{name} expects {expected} as a JSON object, got {value!r}.")
    return parsed


@dataclass(kw_only=True)
class BaseTrainingArguments(TrainingArguments):
    """All of :class:`transformers.TrainingArguments`, plus the options below (every model family has them).

    Args:
        prompts: A prompt for every text column; a ``{column: prompt}`` map; a ``{dataset: prompt}`` map; or
            ``{dataset: {column: prompt}}``. JSON strings are accepted (command line).
        batch_sampler: A :class:`BatchSamplers` value (or its string), or a callable building a batch sampler
            ``(dataset, batch_size, drop_last, valid_label_columns, generator, seed)``.
        multi_dataset_batch_sampler: A :class:`MultiDatasetBatchSamplers` value or a callable
            ``(dataset, batch_samplers, generator, seed)``.
        router_mapping: ``{column: route}`` or ``{dataset: {column: route}}`` for models with a Router.
        learning_rate_mapping: ``{regex over parameter names: learning rate}``.
        warmup_ratio: Deprecated in transformers 5; converted to ``warmup_steps`` (a float below 1 is a ratio).
        nonfinite_loss: What a NaN or infinite training loss does: ``"error"`` (default) stops training with an
            error naming the step, the batch's dataset and the value, before that batch changes the weights;
            ``"skip"`` skips the batch (no gradients from it) and logs the running count as
            ``nonfinite_loss_skipped`` (see :mod:`embedforge.training.nonfinite`).
        gpu_defaults: When training runs on CUDA, turn on bf16 autocast, non-blocking copies and DataLoader workers
            for the settings left at their defaults (see :mod:`embedforge.engine.gpu_defaults`); False keeps
            transformers' defaults. Not in sentence-transformers.
    """

    # transformers' own __post_init__ turns JSON strings of these fields into dicts (command line values).
    _VALID_DICT_FIELDS: ClassVar[list[str]] = [
        *TrainingArguments._VALID_DICT_FIELDS,
        "learning_rate_mapping",
        "prompts",
        "router_mapping",
    ]

    # The annotations put ``str`` first (and ``None`` second where allowed) so that transformers'
    # HfArgumentParser can build a command line option for each field: it reads such a union as "a string".
    prompts: str | None | dict[str, str] | dict[str, dict[str, str]] = field(  # noqa: RUF036
        default=None, metadata={"help": "A prompt, or a JSON object {column or dataset: prompt}."}
    )
    batch_sampler: BatchSamplers | str | Callable[..., Any] = field(
        default=BatchSamplers.BATCH_SAMPLER, metadata={"help": "How rows are grouped into batches."}
    )
    multi_dataset_batch_sampler: MultiDatasetBatchSamplers | str | Callable[..., Any] = field(
        default=MultiDatasetBatchSamplers.PROPORTIONAL,
        metadata={"help": "How batches of several datasets are interleaved."},
    )
    router_mapping: str | None | dict[str, str] | dict[str, dict[str, str]] = field(  # noqa: RUF036
        default_factory=dict, metadata={"help": "A JSON object {column: route} or {dataset: {column: route}}."}
    )
    learning_rate_mapping: str | None | dict[str, float] = field(  # noqa: RUF036
        default_factory=dict, metadata={"help": "A JSON object {regex over parameter names: learning rate}."}
    )
    warmup_ratio: float | None = field(
        default=None, metadata={"help": "Deprecated: use warmup_steps (a float below 1 is a ratio)."}
    )
    nonfinite_loss: str = field(
        default="error", metadata={"help": "On a NaN/inf training loss: 'error' (stop) or 'skip' (skip the batch)."}
    )
    gpu_defaults: bool = field(
        default=True, metadata={"help": "On CUDA, turn on bf16, non-blocking copies and workers left at defaults."}
    )

    def __post_init__(self) -> None:
        check_nonfinite_policy(self.nonfinite_loss)
        if self.warmup_ratio is not None:
            if self.warmup_steps:
                raise ValueError(
                    f"Got both warmup_ratio={self.warmup_ratio} and warmup_steps={self.warmup_steps}; pass one. "
                    "With transformers 5, warmup_steps=0.1 means 10% of the steps."
                )
            logger.warning("warmup_ratio is deprecated in transformers 5; using warmup_steps=%s.", self.warmup_ratio)
            self.warmup_steps = self.warmup_ratio
        super().__post_init__()
        self.prediction_loss_only = True
        self.remove_unused_columns = False  # the collator decides which columns are inputs
        self.ddp_broadcast_buffers = False
        self.prompts = _parse_prompts(self.prompts)
        self.router_mapping = _parse_mapping(
            self.router_mapping, "router_mapping", "{column: route} or {dataset: {column: route}}"
        )
        self.learning_rate_mapping = _parse_mapping(
            self.learning_rate_mapping, "learning_rate_mapping", "{regex over parameter names: learning rate}"
        )
        self.batch_sampler = _as_enum(BatchSamplers, self.batch_sampler, "batch_sampler")
        self.multi_dataset_batch_sampler = _as_enum(
            MultiDatasetBatchSamplers, self.multi_dataset_batch_sampler, "multi_dataset_batch_sampler"
        )

    @property
    def device(self) -> torch.device:
        """The device of this process, as ``TrainingArguments.device``, but a CPU as plain ``cpu``.

        Under DDP on CPUs transformers gives ``cpu:<rank>``; older versions (5.17 among them) then resume the
        optimizer with ``torch.load(map_location="cpu:0")``, which torch refuses ("don't know how to restore data
        location ... tagged with cpu:0"). Every CPU is the same device to torch, so nothing else changes.
        """
        device = super().device
        return torch.device("cpu") if device.type == "cpu" and device.index is not None else device


def _as_enum(enum: type[Enum], value: Any, name: str) -> Any:
    if callable(value) and not isinstance(value, (str, Enum)):
        return value
    try:
        return enum(value)
    except ValueError as error:
        choices = ", ".join(repr(member.value) for member in enum)
        raise ValueError(
            f"{name} expects one of {choices} (or a callable building a sampler), got {value!r}."
        ) from error


@dataclass(kw_only=True)
class SentenceTransformerTrainingArguments(BaseTrainingArguments):
    """Training arguments of a :class:`~embedforge.SentenceTransformer`: see :class:`BaseTrainingArguments`.

    ``prompts`` and ``router_mapping`` may be set per text column (``{column: prompt}``) as well as per dataset.

    Args:
        pad_to_multiple_of: Pad each training batch's texts up to a multiple of this many tokens (capped at the
            token limit) instead of to the longest text, so that batch shapes repeat: compiled code and CUDA graphs
            meet a few shapes instead of a new one almost every step (see :mod:`embedforge.engine.buckets`). None
            (default) pads to the longest text, except when ``torch_compile_mode`` records CUDA graphs on a GPU
            (``"reduce-overhead"``, ``"max-autotune"``): then 32 (see :mod:`embedforge.engine.batch_shapes`). Used by
            the trainer's default collator. Not in sentence-transformers.
    """

    pad_to_multiple_of: int | None = field(
        default=None, metadata={"help": "Pad batch widths up to a multiple of this many tokens (None: the longest)."}
    )

    def __post_init__(self) -> None:
        check_pad_multiple(self.pad_to_multiple_of)
        super().__post_init__()
