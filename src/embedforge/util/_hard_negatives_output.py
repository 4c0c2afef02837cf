"""Output rows and the statistics report of :func:`embedforge.util.mine_hard_negatives`.

The four formats and their columns (``a``/``p`` are the dataset's anchor and positive column names):

============== ============================================ ==================================================
format         ``output_scores=False``                      ``output_scores=True``
============== ============================================ ==================================================
triplet        ``a, p, negative``                           ``a, p, negative, scores`` (``[pos, neg]``)
n-tuple        ``a, p, negative_1 .. negative_n``           ``+ scores`` (``[pos, neg_1 .. neg_n]``)
labeled-pair   ``a, p, label`` (1 positive, 0 negative)     ``a, p, score``
labeled-list   ``a, p`` (list: positive first), ``labels``  ``a, p`` (list), ``scores``
============== ============================================ ==================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from embedforge.util._hard_negatives_options import ScoreFilters
from embedforge.util._hard_negatives_scoring import FilterCount
from embedforge.util._hard_negatives_search import MiningTexts

NEG_INF = -float("inf")


@dataclass(frozen=True)
class Mined:
    """The mined negatives, on CPU, with what the output formats need.

    Attributes:
        texts: Queries, corpus and positives.
        positive_scores: ``(n_rows,)`` score of every (query, positive) row, grouped by query.
        negative_ids: ``(n_queries, num_negatives)`` corpus ids of the negatives.
        negative_scores: ``(n_queries, num_negatives)`` their scores; ``-inf`` where none was found.
        anchor_column: Output name of the anchor column.
        positive_column: Output name of the positive (document) column.
        output_scores: Scores instead of (or besides) labels.
    """

    texts: MiningTexts
    positive_scores: Tensor
    negative_ids: Tensor
    negative_scores: Tensor
    anchor_column: str
    positive_column: str
    output_scores: bool

    @property
    def row_queries(self) -> Tensor:
        """``(n_rows,)`` the query id of every (query, positive) row."""
        return torch.tensor(self.texts.row_query_ids, dtype=torch.long)

    def per_row(self) -> tuple[Tensor, Tensor]:
        """The negatives repeated for each positive row: ids and scores, both ``(n_rows, num_negatives)``."""
        rows = self.row_queries
        return self.negative_ids[rows], self.negative_scores[rows]


@dataclass(frozen=True)
class MinedRows:
    """The output columns and the statistics of the negatives that made it into them.

    Attributes:
        columns: Column name to values, in output order.
        negative_scores: ``(m,)`` scores of the negatives counted in the statistics.
        difference_scores: ``(m,)`` positive score minus negative score, for the same negatives.
        max_rows: Rows the output would have if every anchor had found all its negatives.
    """

    columns: dict[str, list[Any]]
    negative_scores: Tensor
    difference_scores: Tensor
    max_rows: int


def build_rows(output_format: str, mined: Mined, dataset_rows: int) -> MinedRows:
    """The output columns of ``output_format`` (one of the four in the module docstring).

    Args:
        output_format: ``"triplet"``, ``"n-tuple"``, ``"labeled-pair"`` or ``"labeled-list"``.
        mined: The mined negatives.
        dataset_rows: Rows of the input dataset (counts the possible rows of ``labeled-pair``).
    """
    builders: dict[str, Callable[[Mined], MinedRows]] = {
        "triplet": _triplets,
        "n-tuple": _n_tuples,
        "labeled-list": _labeled_lists,
    }
    if output_format == "labeled-pair":
        return _labeled_pairs(mined, dataset_rows)
    return builders[output_format](mined)


def _triplets(mined: Mined) -> MinedRows:
    """One row per (positive, valid negative)."""
    ids, scores = mined.per_row()
    rows, slots = (scores != NEG_INF).nonzero(as_tuple=True)
    corpus, queries = mined.texts.corpus, mined.texts.queries
    positive_ids = torch.tensor(mined.texts.row_positive_ids, dtype=torch.long)
    positives = mined.positive_scores[rows]
    negatives = scores[rows, slots]
    columns: dict[str, list[Any]] = {
        mined.anchor_column: [queries[query] for query in mined.row_queries[rows].tolist()],
        mined.positive_column: [corpus[doc] for doc in positive_ids[rows].tolist()],
        "negative": [corpus[doc] for doc in ids[rows, slots].tolist()],
    }
    if mined.output_scores:
        columns["scores"] = torch.stack([positives, negatives], dim=1).tolist()
    return MinedRows(columns, negatives, positives - negatives, scores.numel())


def _n_tuples(mined: Mined) -> MinedRows:
    """One row per positive whose anchor found all its negatives."""
    ids, scores = mined.per_row()
    keep = (scores != NEG_INF).all(dim=1)
    kept_rows = keep.nonzero().flatten().tolist()
    pairs = mined.texts.row_pairs()
    corpus = mined.texts.corpus
    columns: dict[str, list[Any]] = {
        mined.anchor_column: [pairs[row][0] for row in kept_rows],
        mined.positive_column: [pairs[row][1] for row in kept_rows],
    }
    for number, column in enumerate(ids[keep].T.tolist(), start=1):
        columns[f"negative_{number}"] = [corpus[doc] for doc in column]
    positives, negatives = mined.positive_scores[keep], scores[keep]
    if mined.output_scores:
        columns["scores"] = torch.cat([positives.unsqueeze(-1), negatives], dim=1).tolist()
    differences = (positives.unsqueeze(-1) - negatives).flatten()
    return MinedRows(columns, negatives.flatten(), differences, len(keep))


def _labeled_lists(mined: Mined) -> MinedRows:
    """One row per positive with at least one valid negative: the positive, then the negatives."""
    ids, scores = mined.per_row()
    valid = scores != NEG_INF
    pairs = mined.texts.row_pairs()
    corpus = mined.texts.corpus
    anchors: list[str] = []
    documents: list[list[str]] = []
    targets: list[list[Any]] = []
    for row in valid.any(dim=1).nonzero().flatten().tolist():
        anchors.append(pairs[row][0])
        documents.append([pairs[row][1], *(corpus[doc] for doc in ids[row][valid[row]].tolist())])
        if mined.output_scores:
            targets.append([mined.positive_scores[row].item(), *scores[row][valid[row]].tolist()])
        else:
            targets.append([1] + [0] * int(valid[row].sum()))
    target_column = "scores" if mined.output_scores else "labels"
    columns = {mined.anchor_column: anchors, mined.positive_column: documents, target_column: targets}
    negatives = scores[valid]
    differences = mined.positive_scores.unsqueeze(-1).expand_as(scores)[valid] - negatives
    return MinedRows(columns, negatives, differences, len(valid))


def _labeled_pairs(mined: Mined, dataset_rows: int) -> MinedRows:
    """Per query: its positives (label 1), then its valid negatives (label 0), one pair per row."""
    texts = mined.texts
    anchors: list[str] = []
    documents: list[str] = []
    targets: list[float | int] = []
    positive_scores = iter(mined.positive_scores.tolist())
    for query, positive_ids in enumerate(texts.positive_ids):
        for doc in positive_ids:
            anchors.append(texts.queries[query])
            documents.append(texts.corpus[doc])
            targets.append(next(positive_scores) if mined.output_scores else 1)
        for doc, score in zip(mined.negative_ids[query].tolist(), mined.negative_scores[query].tolist(), strict=True):
            if score != NEG_INF:
                anchors.append(texts.queries[query])
                documents.append(texts.corpus[doc])
                targets.append(score if mined.output_scores else 0)
    target_column = "score" if mined.output_scores else "label"
    columns = {mined.anchor_column: anchors, mined.positive_column: documents, target_column: targets}
    _, scores = mined.per_row()
    valid = scores != NEG_INF
    negatives = scores[valid]
    differences = mined.positive_scores.unsqueeze(-1).expand_as(scores)[valid] - negatives
    return MinedRows(columns, negatives, differences, len(texts.queries) * scores.size(1) + dataset_rows)


STATISTICS: list[tuple[str, Callable[[Tensor], Tensor | float]]] = [
    ("Mean", lambda scores: scores.mean() if scores.numel() else float("nan")),
    ("Median", lambda scores: scores.median() if scores.numel() else float("nan")),
    ("Std", lambda scores: scores.std() if scores.numel() > 1 else float("nan")),
    ("Min", lambda scores: scores.min() if scores.numel() else float("inf")),
    ("25%", lambda scores: torch.quantile(scores.float(), q=0.25) if scores.numel() else float("inf")),
    ("50%", lambda scores: torch.quantile(scores.float(), q=0.5) if scores.numel() else float("inf")),
    ("75%", lambda scores: torch.quantile(scores.float(), q=0.75) if scores.numel() else float("inf")),
    ("Max", lambda scores: scores.max() if scores.numel() else float("-inf")),
]
"""The rows of the statistics table: a name and a function of a 1-D score tensor."""

ROW_FORMAT = "{:<6} {:>14} {:>14} {:>14}"


def _format(value: Tensor | float | int) -> str:
    return f"{value.item():.4f}" if isinstance(value, Tensor) else f"{value:,}"


def print_report(
    positive_scores: Tensor,
    rows: MinedRows,
    output_rows: int,
    counts: dict[str, FilterCount],
    filters: ScoreFilters,
    range_min: int,
) -> None:
    """Print the statistics table, the candidates each filter skipped and how many rows lack negatives.

    Args:
        positive_scores: ``(n_rows,)`` the positives' scores.
        rows: The output and its negative statistics.
        output_rows: Rows of the output dataset.
        counts: What each filter dropped.
        filters: The filters (their values are printed).
        range_min: Suggested as a setting to change when it is above 0.
    """
    print(ROW_FORMAT.format("Metric", "Positive", "Negative", "Difference"))
    print(ROW_FORMAT.format("Count", _format(len(positive_scores)), _format(len(rows.negative_scores)), ""))
    for name, statistic in STATISTICS:
        values = (statistic(positive_scores), statistic(rows.negative_scores), statistic(rows.difference_scores))
        print(ROW_FORMAT.format(name, *(_format(value) for value in values)))
    for name, value in filters.named():
        if name in counts:
            print(
                f"Skipped {counts[name].skipped:,} potential negatives ({counts[name].ratio:.2%}) due to the "
                f"{name} of {value}."
            )
    missing = rows.max_rows - output_rows
    if missing > 0:
        settings = ["range_max", *(["range_min"] if range_min > 0 else [])]
        settings += [name for name, value in filters.named()[:3] if value is not None]
        listed = settings[0] if len(settings) == 1 else ", ".join(settings[:-1]) + " and " + settings[-1]
        print(
            f"Could not find enough negatives for {missing} samples ({missing / rows.max_rows:.2%}). Consider "
            f"adjusting the {listed} parameter{'s' if len(settings) > 1 else ''} if you'd like to find more "
            "valid negatives."
        )
