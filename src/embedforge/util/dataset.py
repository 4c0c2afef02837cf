"""Joining ID columns to their texts: :func:`resolve_ids`, at the path sentence-transformers names ``util.dataset``.

Retrieval datasets often store query and document IDs in the training rows and the texts in separate datasets.
:func:`resolve_ids` builds a transform that replaces the IDs by their texts batch by batch. ``datasets`` is imported
only when it is called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from embedforge.util._resolve_ids_batch import Resolution, output_name, resolve_batch
from embedforge.util.logging import warn_once

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["DEFAULT_LABEL_COLUMNS", "resolve_ids"]

logger = logging.getLogger(__name__)

DEFAULT_LABEL_COLUMNS: tuple[str, ...] = ("label", "labels", "score", "scores")
"""The label columns the data collators recognise, passed through by default."""

LookupSpec = Any
"""A lookup: a ``Dataset``, ``(dataset, id_col)`` or ``(dataset, id_col, value_col)``."""


def _split_spec(input_col: str, spec: LookupSpec) -> tuple[Any, str | None, str | None]:
    """Unpack a lookup spec into ``(dataset, id_col, value_col)``.

    Raises:
        ValueError: For a tuple of the wrong length.
    """
    if not isinstance(spec, tuple):
        return spec, None, None
    if len(spec) not in (2, 3):
        raise ValueError(
            f"lookups[{input_col!r}] must be a Dataset, (dataset, id_col), or (dataset, id_col, value_col), got a "
            f"tuple of length {len(spec)}."
        )
    return spec[0], spec[1], spec[2] if len(spec) == 3 else None


def _check_dataset(input_col: str, dataset: Any) -> None:
    """Raise a TypeError unless ``dataset`` is a ``datasets.Dataset`` (a DatasetDict gets a hint)."""
    from datasets import Dataset, DatasetDict

    if isinstance(dataset, DatasetDict):
        raise TypeError(
            f"lookups[{input_col!r}] holds a `DatasetDict`, expected a `Dataset`. Pass a specific split (e.g. "
            "`dataset_dict['train']`), or load with `load_dataset(..., split='...')`."
        )
    if not isinstance(dataset, Dataset):
        raise TypeError(f"lookups[{input_col!r}] must hold a `Dataset`, got {type(dataset).__name__}.")


def _pick_columns(input_col: str, dataset: Dataset, id_col: str | None, value_col: str | None) -> tuple[str, str]:
    """The ID and value column names, inferred where not given.

    Raises:
        ValueError: If a given column does not exist or an inferred one is ambiguous.
    """
    columns = dataset.column_names
    if id_col is None:
        candidates = [name for name in columns if name == "id" or name.endswith("_id")]
        if len(candidates) != 1:
            raise ValueError(
                f"Cannot infer the ID column of lookups[{input_col!r}]: expected exactly one column named 'id' or "
                f"ending in '_id', found {candidates or 'none'} among {sorted(columns)}. Pass an explicit "
                "(dataset, id_col) tuple."
            )
        id_col = candidates[0]
    elif id_col not in columns:
        raise ValueError(
            f"lookups[{input_col!r}]: ID column {id_col!r} is not a column of the lookup dataset "
            f"(columns: {sorted(columns)})."
        )
    if value_col is None:
        remaining = [name for name in columns if name != id_col]
        if len(remaining) != 1:
            raise ValueError(
                f"Cannot infer the value column of lookups[{input_col!r}]: expected exactly one column besides "
                f"{id_col!r}, found {remaining or 'none'}. Pass an explicit (dataset, id_col, value_col) tuple."
            )
        value_col = remaining[0]
    elif value_col not in columns:
        raise ValueError(
            f"lookups[{input_col!r}]: value column {value_col!r} is not a column of the lookup dataset "
            f"(columns: {sorted(columns)})."
        )
    return id_col, value_col


def _build_index(input_col: str, dataset: Dataset, id_col: str) -> dict[Any, int]:
    """Map each ID to its row position; a duplicated ID maps to its last row (with a one-time warning)."""
    index: dict[Any, int] = {}
    position = 0
    for id_batch in dataset.select_columns([id_col]).iter(batch_size=50_000):
        for key in id_batch[id_col]:
            index[key] = position
            position += 1
    if len(index) != dataset.num_rows:
        warn_once(
            logger,
            f"lookups[{input_col!r}] contains duplicate {id_col!r} values ({dataset.num_rows - len(index)} rows "
            "shadowed). Each duplicated ID resolves to its last occurrence.",
        )
    return index


def _check_options(keep_columns: Any, max_list_length: int | None, output_format: str) -> None:
    """Validate the scalar options of :func:`resolve_ids`.

    Raises:
        TypeError: If ``keep_columns`` is a string.
        ValueError: If ``max_list_length`` is below 1 or ``output_format`` is unknown.
    """
    if isinstance(keep_columns, str):
        raise TypeError(f"keep_columns must be a list or tuple of column names, got the string {keep_columns!r}.")
    if max_list_length is not None and max_list_length < 1:
        raise ValueError(f"max_list_length must be a positive integer or None, got {max_list_length}.")
    if output_format not in ("columns", "lists"):
        raise ValueError(f'output_format must be "columns" or "lists", got {output_format!r}.')


def _resolution(input_col: str, spec: LookupSpec, indices: dict[tuple[int, str], dict[Any, int]]) -> Resolution:
    """Validate one lookup and describe how its column is resolved.

    Args:
        input_col: The ID column of the training data.
        spec: Its lookup spec.
        indices: ID indices built so far, keyed by (original dataset identity, ID column); shared between
            entries that use the same lookup (e.g. ``positive_id`` and ``negative_id``), and extended here.

    Returns:
        The resolution of ``input_col``.
    """
    dataset, id_col, value_col = _split_spec(input_col, spec)
    _check_dataset(input_col, dataset)
    # Key on the original object: with_format returns a new one on every call.
    original_id = id(dataset)
    dataset = dataset.with_format(None)
    id_col, value_col = _pick_columns(input_col, dataset, id_col, value_col)
    index_key = (original_id, id_col)
    if index_key not in indices:
        indices[index_key] = _build_index(input_col, dataset, id_col)
    return Resolution(
        values=dataset.select_columns([value_col]),
        index=indices[index_key],
        value_col=value_col,
        name=output_name(input_col),
        plural_name=output_name(input_col, plural=True),
    )


def resolve_ids(
    lookups: dict[str, LookupSpec],
    keep_columns: Sequence[str] = DEFAULT_LABEL_COLUMNS,
    max_list_length: int | None = None,
    output_format: Literal["columns", "lists"] = "columns",
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Build a batched transform that replaces ID columns by the values they point to in lookup datasets.

    Use it with ``dataset.set_transform(...)`` (lazy), or ``dataset.map(..., batched=True,
    remove_columns=list(lookups))`` (eager; remove any format first with ``with_format(None)``). A column may hold
    one ID per row (``positive_id``) or a list of IDs per row (``document_ids``), detected from the data. Output
    names drop the ID suffix: ``query_id`` → ``query``. Input columns not in ``lookups`` or ``keep_columns`` are
    dropped, and the output columns follow the order of ``lookups`` (put the anchor column first).

    Args:
        lookups: ``{input_col: lookup}``, the lookup being a ``datasets.Dataset`` (its single ``id``/``*_id``
            column and single other column are used), ``(dataset, id_col)``, or ``(dataset, id_col, value_col)``.
        keep_columns: Columns passed through unresolved (absent ones are ignored); defaults to the label columns
            ``label``, ``labels``, ``score``, ``scores``.
        max_list_length: Keep only the first ``max_list_length`` entries of every list-per-row column (ID lists
            and kept list columns), as stored; None keeps all.
        output_format: ``"columns"`` expands a list column into ``document_1`` ... ``document_N`` (every row must
            then hold as many IDs); ``"lists"`` keeps it nested as ``documents`` (ragged rows allowed).

    Returns:
        A picklable function from a batch dict of ID columns to a batch dict of resolved columns. It raises
        KeyError for an ID missing from its lookup dataset.

    Raises:
        ImportError: If ``datasets`` is not installed.
        TypeError: If a lookup is not a ``Dataset`` or ``keep_columns`` is a string.
        ValueError: For invalid options, tuple specs, missing or ambiguous columns.

    Example:
        >>> from datasets import Dataset
        >>> queries = Dataset.from_dict({"query_id": [1, 2], "text": ["q1", "q2"]})
        >>> resolve_ids({"query_id": queries})({"query_id": [2, 1], "label": [1, 0]})
        {'query': ['q2', 'q1'], 'label': [1, 0]}
    """
    try:
        import datasets  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "resolve_ids requires the `datasets` library. Install it with `pip install datasets`."
        ) from error
    _check_options(keep_columns, max_list_length, output_format)
    indices: dict[tuple[int, str], dict[Any, int]] = {}
    resolutions = {input_col: _resolution(input_col, spec, indices) for input_col, spec in lookups.items()}
    return partial(
        resolve_batch,
        resolutions=resolutions,
        keep_columns=tuple(keep_columns),
        max_list_length=max_list_length,
        output_format=output_format,
    )
