"""Token lengths of a dataset's text columns: the histogram ``embedforge validate`` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["BIN_EDGES", "LengthStats", "length_stats"]

BIN_EDGES = (8, 16, 32, 64, 128, 256, 512, 1024)
"""Upper bounds (tokens, inclusive) of the token-length histogram's bins; the last bin holds longer texts."""


@dataclass
class LengthStats:
    """Token lengths of one text column.

    Attributes:
        dataset: Dataset name.
        column: Column name.
        count: Texts measured.
        mean: Mean length in tokens (special tokens included).
        maximum: Longest text in tokens.
        max_seq_length: The model's limit (None if unknown).
        truncated: Texts longer than ``max_seq_length``.
        histogram: ``(bin label, count)`` pairs, bins bounded by :data:`BIN_EDGES`.
    """

    dataset: str
    column: str
    count: int
    mean: float
    maximum: int
    max_seq_length: int | None
    truncated: int
    histogram: list[tuple[str, int]]

    @property
    def truncated_share(self) -> float:
        """Share of texts that would be truncated (0 when nothing was measured)."""
        return self.truncated / self.count if self.count else 0.0


def length_stats(
    tokenizer: Any, max_length: int | None, name: str, dataset: Dataset, show_progress: bool, pairs: bool = False
) -> list[LengthStats]:
    """Token-length statistics of each text (string) column of ``dataset``.

    With ``pairs`` (a cross-encoder reads its first two columns as one input), the first two text columns are
    measured together, as ``"<first>+<second>"``, the way the model tokenizes them.
    """
    from datasets import Value

    from embedforge.data.collator import text_columns

    columns = [
        column
        for column in text_columns(dataset.column_names)
        if isinstance(dataset.features[column], Value) and dataset.features[column].dtype in ("string", "large_string")
    ]
    if pairs and len(columns) >= 2:
        first, second = ([text or "" for text in dataset[column]] for column in columns[:2])
        lengths = _token_counts(tokenizer, first, second, f"{name}.{columns[0]}+{columns[1]}", show_progress)
        return [_summarize(name, f"{columns[0]}+{columns[1]}", lengths, max_length)]
    return [
        _summarize(
            name,
            column,
            _token_counts(tokenizer, [text or "" for text in dataset[column]], None, f"{name}.{column}", show_progress),
            max_length,
        )
        for column in columns
    ]


def _token_counts(
    tokenizer: Any, texts: list[str], pairs: list[str] | None, label: str, show_progress: bool
) -> list[int]:
    """Tokens of each text (or text pair), special tokens included, untruncated."""
    from tqdm.auto import tqdm

    lengths: list[int] = []
    for start in tqdm(range(0, len(texts), 1000), desc=f"tokenizing {label}", disable=not show_progress, leave=False):
        second = pairs[start : start + 1000] if pairs is not None else None
        encoded = tokenizer(
            texts[start : start + 1000], second, add_special_tokens=True, truncation=False, verbose=False
        )
        lengths += [len(ids) for ids in encoded["input_ids"]]
    return lengths


def _summarize(name: str, column: str, lengths: list[int], max_length: int | None) -> LengthStats:
    labels, lower = [], 0
    for edge in BIN_EDGES:
        labels.append((f"{lower + 1}-{edge}", lower, edge))
        lower = edge
    labels.append((f">{BIN_EDGES[-1]}", BIN_EDGES[-1], None))
    histogram = [
        (label, sum(1 for n in lengths if n > low and (high is None or n <= high))) for label, low, high in labels
    ]
    return LengthStats(
        dataset=name,
        column=column,
        count=len(lengths),
        mean=sum(lengths) / len(lengths) if lengths else 0.0,
        maximum=max(lengths, default=0),
        max_seq_length=max_length,
        truncated=sum(1 for n in lengths if max_length is not None and n > max_length),
        histogram=histogram,
    )
