"""Turn dataset rows into model inputs: the shared collator base, and the bi-encoder's tokenizing collator.

Every family's collator picks the label column, stacks the labels and passes the dataset name on
(:class:`BaseDataCollator`); the bi-encoder's collator then tokenizes each text column once, with its prompt and
route (:class:`SentenceTransformerDataCollator`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from embedforge.engine.row_lengths import add_row_lengths
from embedforge.engine.varlen import VARLEN_KEY, add_varlen_layout

LABEL_COLUMNS: tuple[str, ...] = ("label", "labels", "score", "scores")
"""Column names read as the label, in priority order (the first one present wins)."""
RESERVED_COLUMNS: tuple[str, ...] = ("dataset_name", "return_loss")


def label_column(columns: Sequence[str], valid_label_columns: Sequence[str] = LABEL_COLUMNS) -> str | None:
    """The label column among ``columns``, or None."""
    return next((name for name in valid_label_columns if name in columns), None)


def text_columns(columns: Sequence[str], valid_label_columns: Sequence[str] = LABEL_COLUMNS) -> list[str]:
    """The input columns, in dataset order: every column but the label and the reserved ones."""
    label = label_column(columns, valid_label_columns)
    return [name for name in columns if name != label and name not in RESERVED_COLUMNS]


def resolve_column_setting(setting: Any, dataset_name: str | None, column: str) -> Any:
    """Look up a prompt or route given as one value, ``{column: v}``, ``{dataset: v}`` or ``{dataset: {column: v}}``."""
    if setting is None or isinstance(setting, str):
        return setting
    if dataset_name is not None and dataset_name in setting:
        setting = setting[dataset_name]
        if setting is None or isinstance(setting, str):
            return setting
    return setting.get(column)


@dataclass(kw_only=True)
class BaseDataCollator(ABC):
    """What every family's collator does with a batch of rows (all from the same dataset).

    Args:
        valid_label_columns: Names read as the label column, in priority order.
        prompts: Prompts, as the training arguments' ``prompts``.
        router_mapping: Routes, as the training arguments' ``router_mapping``.
        max_length: A token limit for training inputs that overrides the model's ``max_seq_length``: one for
            every column, or ``{task: limit}`` for the columns routed to that task; None keeps the model's.
    """

    valid_label_columns: Sequence[str] = field(default_factory=lambda: list(LABEL_COLUMNS))
    prompts: str | dict[str, Any] | None = None
    router_mapping: dict[str, Any] = field(default_factory=dict)
    max_length: int | dict[str, int] | None = None

    @abstractmethod
    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Collate one batch of rows into the inputs of a training step."""

    def start_batch(self, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        """``({"return_loss", "dataset_name", "label"}, input columns)`` of a batch.

        Returns:
            The batch so far (``label`` from :meth:`collate_labels`, present only when the rows have a label
            column) and the input columns, in dataset order.
        """
        columns = list(rows[0])
        batch: dict[str, Any] = {"return_loss": True}
        dataset_name = rows[0].get("dataset_name")
        if dataset_name is not None:
            batch["dataset_name"] = dataset_name
        label = label_column(columns, self.valid_label_columns)
        if label is not None:
            batch["label"] = self.collate_labels([row[label] for row in rows])
        return batch, text_columns(columns, self.valid_label_columns)

    def collate_labels(self, labels: list[Any]) -> Any:
        """The labels of a batch as one ``(batch, ...)`` tensor (list labels of equal length become rows)."""
        return torch.tensor(labels)

    def max_length_for(self, task: str | None) -> int | None:
        """The ``max_length`` override for a column routed to ``task`` (None: the model's own limit)."""
        if isinstance(self.max_length, dict):
            return self.max_length.get(task) if task is not None else None
        return self.max_length


@dataclass
class SentenceTransformerDataCollator(BaseDataCollator):
    """Collate dataset rows into ``{"sentence_features": [...], "label": tensor, ...}``.

    Every text column is tokenized once per batch by ``tokenize_fn`` (the model's ``tokenize``), with the prompt
    and route configured for that column and dataset; ``prompt_length`` is recorded so that
    ``Pooling(include_prompt=False)`` can skip prompt tokens.

    Args:
        preprocess_fn: ``preprocess(texts, prompt=None, task=None) -> features`` (the model's ``preprocess``,
            the name sentence-transformers 6 uses); also given as ``tokenize_fn``, its earlier name.
        tokenize_fn: The same function as ``preprocess_fn`` (pass one of the two); both attributes hold it.
        valid_label_columns: Names read as the label column, in priority order.
        prompts: Prompts, as ``SentenceTransformerTrainingArguments.prompts``.
        router_mapping: Routes, as ``SentenceTransformerTrainingArguments.router_mapping``.
        max_length: Token limit override, passed as ``max_length=`` to the function when set (see
            :class:`BaseDataCollator`).
        varlen_layout: Also compute each right-padded column's packed layout here, on the CPU side
            (:class:`~embedforge.engine.varlen.VarlenLayout` under ``"varlen_layout"``), so that the unpadded
            forward reads it instead of deriving it on the device (a host sync per column on GPUs). The trainer's
            default collator turns it on; off by default, as in sentence-transformers, whose collator this mirrors.
        row_lengths: Where a column has no packed layout, record its texts' real-token counts on the CPU side
            (:class:`~embedforge.engine.row_lengths.RowLengths` under ``"row_lengths"``), so that the GradCache
            losses cut mini-batches without reading the mask on the device. The trainer turns it on under CUDA
            graphs, which run without layouts; off by default.

    Raises:
        TypeError: If neither ``preprocess_fn`` nor ``tokenize_fn`` is given.
        ValueError: If both are given and differ.
    """

    preprocess_fn: Callable[..., dict[str, Any]] | None = None
    tokenize_fn: Callable[..., dict[str, Any]] | None = field(default=None, kw_only=True)
    varlen_layout: bool = field(default=False, kw_only=True)
    row_lengths: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.preprocess_fn is None and self.tokenize_fn is None:
            raise TypeError(
                "SentenceTransformerDataCollator needs the function that tokenizes a column: pass "
                "preprocess_fn=model.preprocess (or tokenize_fn=model.tokenize)."
            )
        if None not in (self.preprocess_fn, self.tokenize_fn) and self.preprocess_fn != self.tokenize_fn:
            raise ValueError(
                "SentenceTransformerDataCollator got both preprocess_fn and tokenize_fn, and they differ; they name "
                "the same function, so pass only one."
            )
        self.preprocess_fn = self.tokenize_fn = self.preprocess_fn or self.tokenize_fn

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Collate one batch of rows (all from the same dataset).

        Returns:
            ``sentence_features``: one tokenized dict per text column (tensors ``(batch, seq_len)``);
            ``label``: ``(batch, ...)`` tensor when the dataset has a label column; ``dataset_name`` when rows
            carry one; ``return_loss``: True.
        """
        batch, columns = self.start_batch(rows)
        dataset_name = batch.get("dataset_name")
        batch["sentence_features"] = [self._tokenize(rows, column, dataset_name) for column in columns]
        return batch

    def _tokenize(self, rows: list[dict[str, Any]], column: str, dataset_name: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"prompt": resolve_column_setting(self.prompts, dataset_name, column)}
        task = resolve_column_setting(self.router_mapping or None, dataset_name, column)
        if task is not None:
            kwargs["task"] = task
        max_length = self.max_length_for(task)
        if max_length is not None:  # only when set, so functions without a max_length argument keep working
            kwargs["max_length"] = max_length
        preprocess = cast("Callable[..., dict[str, Any]]", self.preprocess_fn)  # set in __post_init__
        features = preprocess([row[column] for row in rows], **kwargs)
        if self.varlen_layout:
            add_varlen_layout(features)
        if self.row_lengths and VARLEN_KEY not in features:
            add_row_lengths(features)
        return features
