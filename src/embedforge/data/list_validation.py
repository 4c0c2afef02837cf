"""Up-front checks of list-valued columns: (query, [documents]) inputs, per-document labels, [0, 1] scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from embedforge.data.label_values import column_values
from embedforge.data.problem import Problem

if TYPE_CHECKING:
    from datasets import Dataset

_LIST_FEATURES = ("List", "Sequence", "LargeList")


def _is_text_list(dataset: Dataset, column: str) -> bool:
    from datasets import Value

    feature = dataset.features[column]
    inner = getattr(feature, "feature", None)
    return (
        type(feature).__name__ in _LIST_FEATURES
        and isinstance(inner, Value)
        and inner.dtype in ("string", "large_string")
    )


def list_column_problems(name: str, dataset: Dataset, loss_name: str, columns: list[str]) -> list[Problem]:
    """Problems of columns that must hold a non-empty list of non-empty texts per row."""
    import pyarrow.compute as pc

    problems = []
    for column in columns:
        if not _is_text_list(dataset, column):
            feature = dataset.features[column]
            problems.append(
                Problem(
                    name,
                    loss_name,
                    f"input column {column!r} holds {feature}, but the loss expects a list of texts per "
                    "row (the documents of the row's query)",
                    "store the documents as a list of strings per row, e.g. "
                    f"{{'query': 'q', {column!r}: ['d1', 'd2']}}",
                )
            )
            continue
        values = column_values(dataset, column)
        empty_lists = values.null_count + int(pc.sum(pc.equal(pc.list_value_length(values), 0)).as_py() or 0)
        flat = pc.list_flatten(values)
        empty_texts = flat.null_count + int(pc.sum(pc.equal(pc.utf8_length(flat), 0)).as_py() or 0)
        if empty_lists or empty_texts:
            problems.append(
                Problem(
                    name,
                    loss_name,
                    f"input column {column!r} has {empty_lists} empty document list(s) and "
                    f"{empty_texts} missing or empty document(s)",
                    f"drop those rows or documents, e.g. dataset = dataset.filter(lambda row: row[{column!r}] and "
                    f"all(row[{column!r}]))",
                )
            )
    return problems


def per_document_label_problems(
    name: str, dataset: Dataset, loss_name: str, documents: str, label: str
) -> list[Problem]:
    """Rows whose label list does not hold exactly one label per document of ``documents``."""
    import pyarrow.compute as pc

    if not _is_text_list(dataset, documents):
        return []
    if type(dataset.features[label]).__name__ not in _LIST_FEATURES:
        return [
            Problem(
                name,
                loss_name,
                f"label column {label!r} holds {dataset.features[label]}, but the loss expects a list "
                f"with one label per document of {documents!r}",
                f"store the labels as a list per row, e.g. {{{documents!r}: ['d1', 'd2'], {label!r}: [1, 0]}}",
            )
        ]
    document_counts = pc.list_value_length(column_values(dataset, documents)).to_pylist()
    label_counts = pc.list_value_length(column_values(dataset, label)).to_pylist()
    rows = [
        index for index, (docs, labels) in enumerate(zip(document_counts, label_counts, strict=True)) if docs != labels
    ]
    if not rows:
        return []
    shown = ", ".join(str(row) for row in rows[:10]) + (", …" if len(rows) > 10 else "")
    return [
        Problem(
            name,
            loss_name,
            f"{len(rows)} row(s) have a different number of labels in {label!r} than documents in "
            f"{documents!r} (rows {shown})",
            "give every document exactly one label, in the same order",
        )
    ]


def probability_problems(name: str, dataset: Dataset, loss_name: str, label: str) -> list[Problem]:
    """Labels outside [0, 1] (the targets of a binary cross-entropy)."""
    import pyarrow.compute as pc

    values = column_values(dataset, label)
    outside = int(pc.sum(pc.or_(pc.less(values, 0), pc.greater(values, 1))).as_py() or 0)
    if not outside:
        return []
    bounds = pc.min_max(values).as_py()
    return [
        Problem(
            name,
            loss_name,
            f"label column {label!r} has {outside} value(s) outside [0, 1] (min {bounds['min']}, max {bounds['max']})",
            "scale the labels into [0, 1], e.g. divide 0-5 similarity scores by 5, or use 1/0 for relevant/irrelevant",
        )
    ]
