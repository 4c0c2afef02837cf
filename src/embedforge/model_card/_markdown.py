"""Small Markdown helpers shared by the model card renderer: tables, cells, lists and durations."""

from __future__ import annotations

from collections.abc import Sequence
from textwrap import indent
from typing import Any

MAX_CELL_CHARS = 1000
"""Longest text shown in a table cell; longer texts are cut and end with ``...``."""

MAX_LIST_ITEMS = 5
"""Most list elements shown in a table cell."""


def format_cell(value: Any) -> str:
    """Write a dataset value so it fits in one Markdown table cell.

    Long texts are cut to :data:`MAX_CELL_CHARS` characters, long lists to their first :data:`MAX_LIST_ITEMS`
    elements; newlines become ``<br>`` and pipes are escaped.

    Args:
        value: Any dataset value (text, number, list...).

    Returns:
        The cell text.
    """
    if isinstance(value, list) and len(value) > MAX_LIST_ITEMS:
        text = str(value[:MAX_LIST_ITEMS])[:-1] + ", ...]"
    elif isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        text = value[:MAX_CELL_CHARS] + "..."
    else:
        text = str(value)
    return text.replace("\n", "<br>").replace("|", "\\|")


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A left-aligned Markdown table.

    Args:
        rows: One dict per row, column name → value; a missing value is shown as ``-``.
        columns: Column order; default: the keys of all rows in first-seen order.

    Returns:
        The table, one line per row after the header and separator lines (no trailing newline).
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(":--" for _ in columns) + "|",
    ]
    lines.extend("| " + " | ".join(str(row.get(column, "-")) for column in columns) + " |" for row in rows)
    return "\n".join(lines)


def join_words(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b, and c``."""
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + ", and " + words[-1]


def html_list(items: dict[str, str]) -> str:
    """``<ul><li>key: value</li>...</ul>``, or an empty string for no items."""
    if not items:
        return ""
    return "<ul><li>" + "</li><li>".join(f"{key}: {value}" for key, value in items.items()) + "</li></ul>"


def code_block(text: str, language: str = "", prefix: str = "") -> str:
    """A fenced code block, each line indented by ``prefix``."""
    return indent(f"```{language}\n{text}\n```", prefix)


def format_duration(seconds: float) -> str:
    """A readable duration: ``12.3 seconds``, ``4.5 minutes``, ``1.6 hours`` or ``2.0 days``."""
    if seconds < 60:
        return f"{seconds:.1f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.1f} minutes"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def format_number(value: Any) -> Any:
    """Round floats to 4 decimals for logs and metric tables; leave other values unchanged."""
    if isinstance(value, float):
        return round(value, 4)
    return value
