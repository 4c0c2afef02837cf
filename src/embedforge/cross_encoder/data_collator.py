"""CrossEncoderDataCollator: passes each input column's texts through; the cross-encoder losses tokenize pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from embedforge.data.collator import BaseDataCollator

NON_INPUT_KEYS = frozenset({"return_loss", "dataset_name", "label", "prompt", "task"})
"""Keys of a collated batch that are not input columns."""


@dataclass
class CrossEncoderDataCollator(BaseDataCollator):
    """Collate rows into ``{column: [texts], ..., "label": ..., "prompt": ..., "task": ...}``.

    Columns keep their dataset order, which the losses read by position (query, document, negatives…). Labels are
    one tensor ``(batch,)``, or one tensor per row when rows hold lists (listwise data). A prompt or route is one
    value, or one per dataset.

    Args:
        preprocess_fn: The model's ``preprocess`` (kept for sentence-transformers' signature; the losses
            tokenize).
        valid_label_columns: Names read as the label column, in priority order.
        prompts: One prompt, or ``{dataset name: prompt}``.
        router_mapping: ``{dataset name: task}``.

    Raises:
        ValueError: If ``prompts`` or ``router_mapping`` is given per column.
    """

    preprocess_fn: Callable[..., dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        for name, setting in (("prompts", self.prompts), ("router_mapping", self.router_mapping)):
            if isinstance(setting, dict) and any(isinstance(value, dict) for value in setting.values()):
                raise ValueError(
                    f"CrossEncoder training takes {name} as one value or a {{dataset name: value}} map, got a "
                    f"per-column map {setting!r}. The columns are combined into pairs; give one value, e.g. "
                    f"{name}='query: ' or {name}={{'my-dataset': 'query: '}}."
                )

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Collate one batch of rows (all from the same dataset)."""
        batch, columns = self.start_batch(rows)
        for key, setting in (("prompt", self.prompts), ("task", self.router_mapping)):
            value = _per_dataset(setting, batch.get("dataset_name"))
            if value:
                batch[key] = value
        for column in columns:
            batch[column] = [row[column] for row in rows]
        return batch

    def collate_labels(self, labels: list[Any]) -> torch.Tensor | list[torch.Tensor]:
        """One tensor ``(batch,)``, or one tensor per row for list labels (documents per query may differ)."""
        if isinstance(labels[0], (list, tuple)):
            return [torch.tensor(label) for label in labels]
        return torch.tensor(labels)


def _per_dataset(setting: str | dict[str, Any] | None, dataset_name: str | None) -> str | None:
    if not setting or isinstance(setting, str):
        return setting or None
    return setting.get(dataset_name) if dataset_name is not None else None


def input_columns(batch: dict[str, Any]) -> list[Any]:
    """The input columns of a collated batch, in dataset order."""
    return [value for key, value in batch.items() if key not in NON_INPUT_KEYS]
