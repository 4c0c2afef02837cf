"""Check every dataset against its loss before training starts, and report all problems at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from embedforge.data.collator import LABEL_COLUMNS, label_column, text_columns
from embedforge.data.label_values import column_values, label_value_problems
from embedforge.data.list_validation import list_column_problems, per_document_label_problems, probability_problems
from embedforge.data.problem import Problem
from embedforge.losses.base import BaseLoss, LabelKind

if TYPE_CHECKING:
    from datasets import Dataset
    from torch import nn

_INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "classlabel")
_FLOAT_TYPES = ("float16", "float32", "float64", "bfloat16")
_LIST_TYPES = ("list", "sequence", "largelist")
TRANSFORM_SAMPLE_ROWS = 64
"""Rows of a dataset with a transform that are transformed and checked (the transform runs lazily per batch)."""


class DatasetValidationError(ValueError):
    """One or more datasets do not fit their losses; the message lists every problem."""


def validate_datasets(datasets: Mapping[str, Dataset], losses: Mapping[str, nn.Module], split: str = "train") -> None:
    """Check each dataset's columns, label and texts against its loss.

    Args:
        datasets: Datasets by name.
        losses: The loss of each dataset (same keys).
        split: ``"train"`` or ``"eval"``, for the message.

    Raises:
        DatasetValidationError: Listing every problem found, each with the dataset, loss, what was found and the fix.
    """
    problems = [
        problem for name, dataset in datasets.items() for problem in check_dataset(name, as_seen(dataset), losses[name])
    ]
    if problems:
        lines = "\n".join(str(problem) for problem in problems)
        raise DatasetValidationError(
            f"The {split} data does not fit the loss ({len(problems)} problem{'s' * (len(problems) > 1)}), "
            f"found before any training step:\n{lines}"
        )


def as_seen(dataset: Dataset) -> Dataset:
    """The rows the trainer will see, as a Dataset to check.

    ``dataset`` itself, or for a dataset with a transform (``set_transform`` / ``with_transform``, which may add,
    drop or retype columns) its first ``TRANSFORM_SAMPLE_ROWS`` rows transformed.
    """
    if dataset.format.get("type") != "custom" or len(dataset) == 0:
        return dataset
    from datasets import Dataset

    return Dataset.from_dict(dataset[: min(len(dataset), TRANSFORM_SAMPLE_ROWS)])


def check_dataset(name: str, dataset: Dataset, loss: nn.Module) -> list[Problem]:
    """All problems of one dataset with one loss (an empty list when it fits)."""
    loss_name = type(loss).__name__
    columns = list(dataset.column_names)
    texts = text_columns(columns)
    positions = loss.input_spec.list_columns if isinstance(loss, BaseLoss) else ()
    lists = [texts[index] for index in positions if index < len(texts)]
    problems = _text_problems(name, dataset, loss_name, [column for column in texts if column not in lists])
    problems += list_column_problems(name, dataset, loss_name, lists)
    label = label_column(columns)
    if isinstance(loss, BaseLoss):
        problems += _structure_problems(name, dataset, loss, columns, texts)
        if lists and label is not None and loss.input_spec.label is LabelKind.PER_DOCUMENT:
            problems += per_document_label_problems(name, dataset, loss_name, lists[0], label)
    if label is not None and not (isinstance(loss, BaseLoss) and loss.input_spec.label is LabelKind.NONE):
        problems += label_value_problems(name, dataset, loss_name, label)
    return problems


def _structure_problems(
    name: str, dataset: Dataset, loss: BaseLoss, columns: list[str], texts: list[str]
) -> list[Problem]:
    spec, loss_name = loss.input_spec, type(loss).__name__
    problems = []
    if not spec.accepts_text_count(len(texts)):
        most = "any number of" if spec.max_texts is None else f"at most {spec.max_texts}"
        problems.append(
            Problem(
                name,
                loss_name,
                f"{len(texts)} input column(s) {texts} (all columns: {columns}), but the loss accepts "
                f"{spec.description} — at least {spec.min_texts} and {most} text columns",
                "keep and order only the input columns the loss needs, e.g. "
                f"dataset = dataset.select_columns({texts[: max(spec.min_texts, 1)] + _label_list(columns)})",
            )
        )
    label = label_column(columns)
    if label is None and spec.label not in (LabelKind.NONE, LabelKind.OPTIONAL, LabelKind.ANY):
        problems.append(
            Problem(
                name,
                loss_name,
                f"no label column (one of {list(LABEL_COLUMNS)}) among {columns}",
                f"add the {spec.label.value} labels as a column named 'label' or 'score'",
            )
        )
    elif label is not None and spec.label is LabelKind.NONE:
        problems.append(
            Problem(
                name,
                loss_name,
                f"a label column {label!r}, but the loss takes no labels ({spec.description})",
                f"remove it: dataset = dataset.remove_columns([{label!r}]), or pick a loss that uses labels",
            )
        )
    elif label is not None:
        problems += _label_problems(name, dataset, loss_name, label, spec.label)
    return problems


def _label_list(columns: list[str]) -> list[str]:
    label = label_column(columns)
    return [label] if label is not None else []


def _label_problems(name: str, dataset: Dataset, loss_name: str, label: str, kind: LabelKind) -> list[Problem]:
    dtype = _dtype(dataset, label)
    expected = {
        LabelKind.FLOAT: _FLOAT_TYPES + _INTEGER_TYPES,
        LabelKind.INT: _INTEGER_TYPES,
        LabelKind.BINARY: _INTEGER_TYPES,
        LabelKind.FLOAT_LIST: ("list", "sequence", "largelist"),
        LabelKind.INT_OR_FLOAT_LIST: (*_INTEGER_TYPES, "list", "sequence", "largelist"),
        LabelKind.FLOAT_OR_FLOAT_LIST: (*_FLOAT_TYPES, *_INTEGER_TYPES, "list", "sequence", "largelist"),
        LabelKind.PROBABILITY: _FLOAT_TYPES + _INTEGER_TYPES,
        LabelKind.PER_DOCUMENT: _LIST_TYPES,
    }.get(kind)
    if expected is None or dtype in expected:
        if kind is LabelKind.BINARY and set(dataset.unique(label)) - {0, 1, None}:
            return [
                Problem(
                    name,
                    loss_name,
                    f"label column {label!r} holds values other than 0 and 1",
                    "map the labels to 0 (dissimilar) and 1 (similar)",
                )
            ]
        if kind is LabelKind.PROBABILITY:
            return probability_problems(name, dataset, loss_name, label)
        return []
    return [
        Problem(
            name,
            loss_name,
            f"label column {label!r} has dtype {dtype}, but the loss expects {kind.value} labels",
            f"cast it, e.g. dataset = dataset.cast_column({label!r}, datasets.Value("
            f"{'float32' if kind is LabelKind.FLOAT else 'int64'!r}))",
        )
    ]


def _dtype(dataset: Dataset, column: str) -> str:
    from datasets import Value

    feature = dataset.features[column]
    return str(feature.dtype) if isinstance(feature, Value) else type(feature).__name__.lower()


def _text_problems(name: str, dataset: Dataset, loss_name: str, texts: list[str]) -> list[Problem]:
    import pyarrow.compute as pc

    problems = []
    for column in texts:
        dtype = _dtype(dataset, column)
        if dtype not in ("string", "large_string"):
            problems.append(
                Problem(
                    name,
                    loss_name,
                    f"input column {column!r} has dtype {dtype}, not text",
                    f"inputs must be strings: drop it (dataset.remove_columns([{column!r}])) or, if it is the label, "
                    "rename it to 'label' or 'score'",
                )
            )
            continue
        values = column_values(dataset, column)
        empty = values.null_count + int(pc.sum(pc.equal(pc.utf8_length(values), 0)).as_py() or 0)
        if empty:
            problems.append(
                Problem(
                    name,
                    loss_name,
                    f"input column {column!r} has {empty} missing or empty text(s)",
                    f"drop those rows: dataset = dataset.filter(lambda row: bool(row[{column!r}]))",
                )
            )
    return problems


def as_dataset_dict(data: Any, default_name: str) -> dict[str, Dataset]:
    """``{name: Dataset}`` for a Dataset (named ``default_name``), a DatasetDict or a plain dict."""
    if isinstance(data, Mapping):
        return dict(data)
    return {default_name: data}
