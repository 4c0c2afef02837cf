"""What the model card says about training data and losses: column statistics, sample rows, loss summaries.

Everything here is computed once, when the trainer hands its datasets and losses to the card data
(:meth:`~embedforge.model_card.data.SentenceTransformerModelCardData.set_training_data`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from embedforge.model_card._markdown import format_cell

if TYPE_CHECKING:
    from torch import nn

Tokenize = Callable[[list[str]], dict[str, Any]]
"""Tokenizes a batch of texts into features holding ``attention_mask`` ``(batch, seq)`` (or ``input_ids``
``(total_tokens,)`` with ``offsets`` ``(batch,)``, as StaticEmbedding does)."""

STATS_ROWS = 1000
"""Column statistics are computed over the first rows of each dataset, at most this many."""

SAMPLE_ROWS = 3
"""Sample rows shown per dataset."""

EXAMPLE_TEXTS = 4
"""Texts kept per dataset for the usage snippet and the widget."""

TOKENIZE_BATCH = 64
"""Texts tokenized at once while counting tokens."""

IGNORED_COLUMNS = frozenset({"dataset_name"})
"""Columns the trainer adds itself; not described in the card."""

SBERT_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    month = "11",
    year = "2019",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/1908.10084",
}"""


@dataclass(frozen=True)
class ColumnStats:
    """Statistics of one dataset column.

    Attributes:
        dtype: ``string``, ``float``, ``int``, ``bool``, ``list`` or the Python type name of other values.
        details: Readable statistics, e.g. ``{"min": "5 tokens", "mean": "9.4 tokens", "max": "21 tokens"}``.
    """

    dtype: str
    details: dict[str, str]


@dataclass(frozen=True)
class LossSummary:
    """A loss as the model card shows it.

    Attributes:
        name: Class name, e.g. ``CoSENTLoss``.
        fullname: Module and class name, e.g. ``embedforge.losses.cosent.CoSENTLoss``.
        config: ``get_config_dict()`` of an embedforge loss; None for other modules.
        citation: The loss's BibTeX, if it declares one.
    """

    name: str
    fullname: str
    config: dict[str, Any] | None = None
    citation: str | None = None


@dataclass
class DatasetSummary:
    """One training or evaluation dataset as the model card shows it.

    Attributes:
        name: Display name; None or empty for an unnamed dataset.
        id: Hugging Face Hub dataset id, if known.
        revision: Hub revision (commit), if known.
        size: Number of rows; None when unknown (e.g. streaming datasets).
        columns: Column names, in order.
        stats: Statistics per column, computed over the first :data:`STATS_ROWS` rows.
        stats_rows: How many rows the statistics are based on.
        samples: The first :data:`SAMPLE_ROWS` rows, each value already formatted for a table cell.
        example_texts: A few short texts from the dataset (at most :data:`EXAMPLE_TEXTS`), for the usage
            snippet and the Hub widget.
        loss: The loss trained on this dataset.
    """

    name: str | None = None
    id: str | None = None
    revision: str | None = None
    size: int | None = None
    columns: list[str] = field(default_factory=list)
    stats: dict[str, ColumnStats] = field(default_factory=dict)
    stats_rows: int = 0
    samples: list[dict[str, str]] = field(default_factory=list)
    example_texts: list[str] = field(default_factory=list)
    loss: LossSummary | None = None


def summarize_dataset(
    dataset: Any, metadata: dict[str, str], loss: LossSummary | None, tokenize: Tokenize | None
) -> DatasetSummary:
    """Size, column statistics and sample rows of one dataset.

    Args:
        dataset: A ``datasets.Dataset`` (statistics and samples are computed) or any dataset with
            ``column_names`` (only the columns are listed, e.g. an ``IterableDataset``).
        metadata: ``name``/``id``/``revision`` given by the user.
        loss: The loss trained on this dataset.
        tokenize: Tokenizer used to count tokens in text columns; None counts whitespace-separated words.

    Returns:
        The summary.
    """
    from datasets import Dataset

    summary = DatasetSummary(
        name=metadata.get("name") or metadata.get("id"),
        id=metadata.get("id"),
        revision=metadata.get("revision"),
        loss=loss,
    )
    summary.columns = [column for column in dataset.column_names or [] if column not in IGNORED_COLUMNS]
    if not isinstance(dataset, Dataset) or len(dataset) == 0:
        summary.size = len(dataset) if isinstance(dataset, Dataset) else None
        return summary
    summary.size = len(dataset)
    summary.stats_rows = min(summary.size, STATS_ROWS)
    head = dataset[: summary.stats_rows]  # with a transform set, its output columns
    summary.columns = [column for column in head if column not in IGNORED_COLUMNS]
    summary.stats = {column: column_stats(head[column], tokenize) for column in summary.columns}
    summary.samples = [
        {column: f"<code>{format_cell(head[column][row])}</code>" for column in summary.columns}
        for row in range(min(summary.size, SAMPLE_ROWS))
    ]
    summary.example_texts = pick_example_texts(head, summary.columns)
    return summary


def pick_example_texts(head: dict[str, list[Any]], columns: Sequence[str], count: int = EXAMPLE_TEXTS) -> list[str]:
    """Distinct non-empty texts from the rows with the least text, shortest rows first.

    Args:
        head: The first rows of a dataset, column → values.
        columns: The columns to read.
        count: Most texts returned.

    Returns:
        Up to ``count`` texts.
    """
    text_columns = [column for column in columns if head[column] and isinstance(head[column][0], str)]
    if not text_columns:
        return []

    def row_length(row: int) -> int:
        return sum(len(value) for column in text_columns if isinstance(value := head[column][row], str))

    texts: list[str] = []
    for row in sorted(range(len(head[text_columns[0]])), key=row_length):
        for column in text_columns:
            value = head[column][row]
            if isinstance(value, str) and value.strip() and value not in texts:
                texts.append(value)
            if len(texts) == count:
                return texts
    return texts


def column_stats(values: Sequence[Any], tokenize: Tokenize | None = None) -> ColumnStats:
    """Statistics of one column's values, by the type of its first value.

    Texts: token count (or word count without ``tokenize``) min/mean/max. Numbers: min/mean/max.
    Lists: their length (one ``size`` if all equal, else min/mean/max). Other types: only the type name.
    Values of another type than the first (e.g. missing values) are skipped.

    Args:
        values: The column's values (the first :data:`STATS_ROWS` rows).
        tokenize: Tokenizer for texts; None counts whitespace-separated words.

    Returns:
        The statistics.
    """
    first = values[0]
    if isinstance(first, str):
        counts, unit = _text_lengths([value for value in values if isinstance(value, str)], tokenize)
        return ColumnStats("string", _min_mean_max(counts, suffix=f" {unit}"))
    if isinstance(first, (bool, int, float)):
        numbers = [float(value) for value in values if isinstance(value, (bool, int, float))]
        dtype = type(first).__name__
        return ColumnStats(dtype, _min_mean_max(numbers, integers=dtype != "float"))
    if isinstance(first, list):
        lengths = [len(value) for value in values if isinstance(value, list)]
        if min(lengths) == max(lengths):
            return ColumnStats("list", {"size": f"{lengths[0]} elements"})
        return ColumnStats("list", _min_mean_max(lengths, suffix=" elements"))
    return ColumnStats(type(first).__name__, {})


def _min_mean_max(numbers: Sequence[float], suffix: str = "", integers: bool = True) -> dict[str, str]:
    """``{"min", "mean", "max"}`` as text; min and max as integers when ``integers``; mean with 2 decimals."""
    low, high = min(numbers), max(numbers)
    mean = round(sum(numbers) / len(numbers), 2)
    if integers:
        low, high = int(low), int(high)
    else:
        low, high = round(low, 2), round(high, 2)
    return {"min": f"{low}{suffix}", "mean": f"{mean}{suffix}", "max": f"{high}{suffix}"}


def _text_lengths(texts: list[str], tokenize: Tokenize | None) -> tuple[list[int], str]:
    """Length of each text in tokens (with ``tokenize``) or words (without), and the unit's name."""
    if tokenize is None:
        return [len(text.split()) for text in texts], "words"
    counts: list[int] = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        counts.extend(token_counts(tokenize(texts[start : start + TOKENIZE_BATCH])))
    return counts, "tokens"


def token_counts(features: dict[str, Any]) -> list[int]:
    """Tokens per text in a tokenized batch.

    Args:
        features: ``attention_mask`` ``(batch, seq)`` (tensor, array or nested lists), or flat ``input_ids``
            ``(total_tokens,)`` with ``offsets`` ``(batch,)``.

    Returns:
        One count per text.

    Raises:
        ValueError: If the features hold neither layout.
    """
    if "attention_mask" in features:
        return [int(sum(row)) for row in _as_list(features["attention_mask"])]
    if "offsets" in features and "input_ids" in features:
        starts = [int(start) for start in _as_list(features["offsets"])]
        ends = [*starts[1:], len(_as_list(features["input_ids"]))]
        return [end - start for start, end in zip(starts, ends, strict=True)]
    raise ValueError(
        f"Cannot count tokens from tokenized features with keys {sorted(features)}: expected 'attention_mask', "
        "or 'input_ids' with 'offsets'. Pass a tokenize function returning one of those, or tokenize=None."
    )


def _as_list(values: Any) -> list[Any]:
    """A tensor or array as nested Python lists; lists unchanged."""
    return values if isinstance(values, list) else values.tolist()


def summarize_loss(loss: nn.Module) -> LossSummary:
    """Name, config and citation of one loss.

    Args:
        loss: An embedforge loss (``BaseLoss``: config and citation are read) or any other ``nn.Module`` (only its
            class name is shown).

    Returns:
        The summary.
    """
    from embedforge.losses.base import BaseLoss

    cls = type(loss)
    fullname = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(loss, BaseLoss):
        return LossSummary(cls.__name__, fullname, loss.get_config_dict(), loss.citation)
    return LossSummary(cls.__name__, fullname)


def all_losses(losses: Iterable[nn.Module]) -> list[nn.Module]:
    """The given losses and the embedforge losses nested inside them (e.g. the loss a Matryoshka loss wraps)."""
    from embedforge.losses.base import BaseLoss

    found: list[nn.Module] = []
    for loss in losses:
        for module in loss.modules():
            if (module is loss or isinstance(module, BaseLoss)) and module not in found:
                found.append(module)
    return found


def citations_for(losses: Iterable[LossSummary]) -> dict[str, str]:
    """BibTeX per heading: Sentence-BERT first, then each loss's; losses sharing a citation share a heading.

    Args:
        losses: Summaries of every loss used (duplicates allowed).

    Returns:
        Heading (``"Sentence Transformers"``, ``"CoSENTLoss"``, ``"MatryoshkaLoss and CoSENTLoss"``...) → BibTeX.
    """
    by_citation: dict[str, list[str]] = {SBERT_CITATION: ["Sentence Transformers"]}
    for loss in losses:
        if loss.citation:
            names = by_citation.setdefault(loss.citation.strip(), [])
            if loss.name not in names:
                names.append(loss.name)
    return {_and_join(names): citation for citation, names in by_citation.items()}


def _and_join(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (as sentence-transformers writes citation headings)."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
