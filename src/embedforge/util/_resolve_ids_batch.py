"""The batched transform behind :func:`embedforge.util.resolve_ids`, kept at module level so that it pickles."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Resolution", "output_name", "resolve_batch"]

_SINGULAR_SUFFIXES = (("_ids", ""), ("_id", ""), ("_idx", ""))
_PLURAL_SUFFIXES = (("y_ids", "ies"), ("_ids", "s"), ("_id", ""), ("_idx", ""))


@dataclass(frozen=True)
class Resolution:
    """How one input column is resolved.

    Attributes:
        values: The lookup dataset narrowed to its value column (row access decodes only that column).
        index: ID to row position in ``values``.
        value_col: The value column's name.
        name: The output name of a single-ID column, and the prefix of expanded list columns (``query``).
        plural_name: The output name of a list column kept nested (``documents``).
    """

    values: Any
    index: dict[Any, int]
    value_col: str
    name: str
    plural_name: str


def output_name(input_col: str, plural: bool = False) -> str:
    """The output column name of an ID column: ``query_id`` → ``query``, plural ``document_ids`` → ``documents``.

    Args:
        input_col: The ID column's name.
        plural: Whether to pluralise a ``_ids`` column instead of only stripping the suffix.

    Returns:
        The name with its first matching ID suffix replaced; the name itself when none matches.
    """
    for suffix, replacement in _PLURAL_SUFFIXES if plural else _SINGULAR_SUFFIXES:
        if input_col.endswith(suffix):
            return input_col.removesuffix(suffix) + replacement
    return input_col


def _is_encoded_list(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("[")


def _decode_lists(column: Sequence[Any], name: str) -> list[list[Any]]:
    """Parse a column whose rows are lists written as strings (``"['a', 'b']"``).

    Raises:
        ValueError: If a row does not parse, or parses to something other than a list or tuple.
    """
    parsed = []
    for row in column:
        try:
            value = ast.literal_eval(row)
        except (ValueError, SyntaxError) as error:
            raise ValueError(
                f"Column {name!r} looks like it holds string-encoded lists, but a row failed to parse ({error}): "
                f"{row[:100]!r}. Convert the column to native lists."
            ) from None
        if not isinstance(value, (list, tuple)):
            raise ValueError(
                f"Column {name!r} looks like it holds string-encoded lists, but a row parsed to "
                f"{type(value).__name__} instead of a list: {row[:100]!r}."
            )
        parsed.append(list(value))
    return parsed


def _lookup(ids: list[Any], resolution: Resolution, input_col: str) -> list[Any]:
    """The values of ``ids`` in their lookup dataset, in order.

    Raises:
        KeyError: If an ID is not in the lookup dataset.
        TypeError: If the IDs are not hashable (a formatted train dataset).
    """
    if not ids:
        return []
    try:
        rows = [resolution.index[key] for key in ids]
    except TypeError:
        raise TypeError(
            f"IDs from input column {input_col!r} are not hashable, which typically means the train dataset carries "
            "a format (e.g. with_format('numpy')). Call dataset.with_format(None) before applying the transform."
        ) from None
    except KeyError as error:
        missing = error.args[0]
        hint = " The ID looks like a string-encoded list. Convert the column to native lists first."
        raise KeyError(
            f"ID {missing!r} from input column {input_col!r} was not found in its lookup dataset."
            f"{hint if _is_encoded_list(missing) else ''}"
        ) from None
    return resolution.values[rows][resolution.value_col]


def _add(resolved: dict[str, Any], name: str, values: list[Any]) -> None:
    """Add an output column.

    Raises:
        ValueError: If a column of that name was already produced.
    """
    if name in resolved:
        raise ValueError(
            f"Output column {name!r} is produced more than once (e.g. two lookups entries resolving to the same "
            "name, or an expanded list column colliding with another entry). Rename the input columns to "
            "disambiguate."
        )
    resolved[name] = values


def _expand_columns(resolved: dict[str, Any], column: list[list[Any]], resolution: Resolution, input_col: str) -> None:
    """Resolve a list-per-row column into one output column per list position (``document_1``, ...).

    Raises:
        ValueError: If rows hold lists of different lengths, or empty lists.
    """
    lengths = {len(row) for row in column}
    if len(lengths) != 1:
        raise ValueError(
            f"Rows of input column {input_col!r} hold lists of differing lengths {sorted(lengths)}. List columns "
            "expand into one output column per position, which requires the same length on every row. Set "
            'max_list_length to cap all rows to a common length, or output_format="lists" to keep nested lists.'
        )
    width = lengths.pop()
    if width == 0:
        raise ValueError(
            f"Rows of input column {input_col!r} hold empty ID lists, so there are no positions to expand into "
            "columns. Filter such rows out of the dataset."
        )
    flat = _lookup([key for row in column for key in row], resolution, input_col)
    for position in range(width):
        _add(resolved, f"{resolution.name}_{position + 1}", flat[position::width])


def _nest(resolved: dict[str, Any], column: list[list[Any]], resolution: Resolution, input_col: str) -> None:
    """Resolve a list-per-row column into one nested output column (``documents``)."""
    flat = _lookup([key for row in column for key in row], resolution, input_col)
    nested, offset = [], 0
    for row in column:
        nested.append(flat[offset : offset + len(row)])
        offset += len(row)
    _add(resolved, resolution.plural_name, nested)


def _column(batch: Mapping[str, Any], input_col: str) -> list[Any]:
    """Read an input column as a list, decoding string-encoded lists.

    Raises:
        TypeError: If the column is not a list (a formatted dataset).
    """
    column = batch[input_col]
    if not isinstance(column, list):
        raise TypeError(
            f"Input column {input_col!r} holds a {type(column).__name__} rather than a list, which means the train "
            "dataset carries a format (e.g. with_format('numpy')). Call dataset.with_format(None) before applying "
            "the transform."
        )
    return _decode_lists(column, input_col) if column and _is_encoded_list(column[0]) else column


def _keep(resolved: dict[str, Any], batch: Mapping[str, Any], name: str, max_list_length: int | None) -> None:
    """Pass a kept column through, truncating list-per-row values to ``max_list_length``."""
    values = batch[name]
    if len(values) > 0 and _is_encoded_list(values[0]):
        values = _decode_lists(values, name)
    is_rows = len(values) > 0 and not isinstance(values[0], (str, bytes)) and _sized(values[0])
    if max_list_length is not None and is_rows:
        values = [row[:max_list_length] for row in values]
    _add(resolved, name, values)


def _sized(value: Any) -> bool:
    """Whether ``value`` has a length (lists, tuples, arrays), without treating strings as rows."""
    try:
        len(value)
    except TypeError:
        return False
    return True


def resolve_batch(
    batch: Mapping[str, Any],
    resolutions: dict[str, Resolution],
    keep_columns: tuple[str, ...],
    max_list_length: int | None,
    output_format: Literal["columns", "lists"],
) -> dict[str, Any]:
    """Resolve one batch of ID columns to their values; see :func:`embedforge.util.resolve_ids`.

    Raises:
        TypeError: If the batch is not a plain dict of lists.
    """
    if not isinstance(batch, Mapping):
        raise TypeError(
            f"resolve_ids expects batches as plain column dicts, got {type(batch).__name__}: the train dataset "
            "carries a format (e.g. with_format('pandas')). Call dataset.with_format(None) before applying the "
            "transform."
        )
    resolved: dict[str, Any] = {}
    for input_col, resolution in resolutions.items():
        column = _column(batch, input_col)
        if not (column and isinstance(column[0], (list, tuple))):
            _add(resolved, resolution.name, _lookup(list(column), resolution, input_col))
            continue
        if max_list_length is not None:
            column = [row[:max_list_length] for row in column]
        if output_format == "columns":
            _expand_columns(resolved, column, resolution, input_col)
        else:
            _nest(resolved, column, resolution, input_col)
    for name in keep_columns:
        if name in batch:
            _keep(resolved, batch, name, max_list_length)
    return resolved
