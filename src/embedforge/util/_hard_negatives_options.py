"""Argument checks and defaults of :func:`embedforge.util.mine_hard_negatives`, following sentence-transformers 6.2."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger("embedforge.util.hard_negatives")

OutputFormat = Literal["triplet", "n-tuple", "labeled-pair", "labeled-list"]
SearchBackend = Literal["torch", "faiss", "usearch"]

OUTPUT_FORMATS: tuple[str, ...] = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
SAMPLING_STRATEGIES: tuple[str, ...] = ("top", "random")
FAISS_GPU_MAX_RESULTS = 2048
"""FAISS on GPU returns at most this many documents per query."""


@dataclass(frozen=True)
class ScoreFilters:
    """The score thresholds that drop candidate negatives (each None when unused).

    Attributes:
        absolute_margin: Drop a candidate when ``score + absolute_margin`` exceeds the anchor's lowest positive score.
        relative_margin: Drop a candidate when ``score > p - |p| * relative_margin``, ``p`` the lowest positive score.
        max_score: Drop candidates scoring above this value.
        min_score: Drop candidates scoring below this value.
    """

    absolute_margin: float | None = None
    relative_margin: float | None = None
    max_score: float | None = None
    min_score: float | None = None

    @property
    def any_set(self) -> bool:
        """Whether any filter is used (this is also what turns cross-encoder rescoring on)."""
        return any(value is not None for _, value in self.named())

    def named(self) -> list[tuple[str, float | None]]:
        """``(argument name, value)`` for every filter, in the order they are applied."""
        return [
            ("absolute_margin", self.absolute_margin),
            ("relative_margin", self.relative_margin),
            ("max_score", self.max_score),
            ("min_score", self.min_score),
        ]


@dataclass(frozen=True)
class MiningRequest:
    """The caller's arguments that decide the shape of the mining, before defaults and checks."""

    anchor_column_name: str | None
    positive_column_name: str | None
    range_min: int
    range_max: int | None
    filters: ScoreFilters
    num_negatives: int
    sampling_strategy: str
    include_positives: bool
    output_format: str
    output_scores: bool
    as_triplets: bool | None
    margin: float | None
    has_cross_encoder: bool
    faiss_gpus: int
    verbose: bool


@dataclass(frozen=True)
class MiningOptions:
    """The resolved settings of one mining run.

    Attributes:
        anchor_column: Dataset column holding the anchors (queries).
        positive_column: Dataset column holding the positives.
        output_format: One of :data:`OUTPUT_FORMATS`.
        output_scores: Whether scores replace or accompany the labels.
        filters: Score thresholds, with the deprecated ``margin`` folded into ``absolute_margin``.
        range_min: Number of best remaining candidates skipped.
        range_max: Number of best candidates considered.
        num_negatives: Negatives kept per anchor.
        sampling_strategy: ``"top"`` or ``"random"``.
        include_positives: Keep the positives among the candidates.
        rows_per_anchor: Dataset rows per distinct anchor, in order of first appearance.
    """

    anchor_column: str
    positive_column: str
    output_format: str
    output_scores: bool
    filters: ScoreFilters
    range_min: int
    range_max: int
    num_negatives: int
    sampling_strategy: str
    include_positives: bool
    rows_per_anchor: list[int]

    @property
    def max_positives(self) -> int:
        """The most dataset rows any anchor has (duplicate pairs counted, as sentence-transformers does)."""
        return max(self.rows_per_anchor)


def resolve_options(dataset: Dataset, request: MiningRequest) -> MiningOptions:
    """Check the arguments, apply the deprecated ones and fill in the defaults (``range_max`` in particular).

    Args:
        dataset: The (anchor, positive) dataset.
        request: The caller's arguments.

    Returns:
        The settings the mining runs with.

    Raises:
        ValueError: On an empty dataset, a missing column, an unknown ``output_format`` or ``sampling_strategy``,
            or a ``num_negatives`` that does not fit between ``range_min`` and ``range_max``.
    """
    if len(dataset) == 0:
        raise ValueError("mine_hard_negatives expects a dataset of (anchor, positive) rows; the dataset is empty.")
    if request.sampling_strategy not in SAMPLING_STRATEGIES:
        raise ValueError(
            f"sampling_strategy must be one of {SAMPLING_STRATEGIES}, got {request.sampling_strategy!r}. Use 'top' "
            "for the highest-scoring valid candidates or 'random' for a uniform sample of them."
        )
    anchor, positive = resolve_columns(dataset.column_names, request.anchor_column_name, request.positive_column_name)
    output_format, output_scores = resolve_output_format(request)
    filters = request.filters
    if request.margin is not None:
        logger.warning(
            "The `margin` parameter is deprecated; use `absolute_margin` and/or `relative_margin`. Setting "
            "`absolute_margin` to `%s`.",
            request.margin,
        )
        filters = ScoreFilters(request.margin, filters.relative_margin, filters.max_score, filters.min_score)
    rows_per_anchor = list(Counter(dataset[anchor]).values())
    if request.num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1, got num_negatives={request.num_negatives}.")
    range_max, note = default_range_max(request, filters, max(rows_per_anchor))
    check_range(request.range_min, range_max, request.num_negatives, note)
    return MiningOptions(
        anchor_column=anchor,
        positive_column=positive,
        output_format=output_format,
        output_scores=output_scores,
        filters=filters,
        range_min=request.range_min,
        range_max=range_max,
        num_negatives=request.num_negatives,
        sampling_strategy=request.sampling_strategy,
        include_positives=request.include_positives,
        rows_per_anchor=rows_per_anchor,
    )


def resolve_columns(columns: Sequence[str], anchor: str | None, positive: str | None) -> tuple[str, str]:
    """The anchor and positive column names: the named ones, else the first and second column.

    Args:
        columns: The dataset's column names.
        anchor: ``anchor_column_name`` as given (None: the first column).
        positive: ``positive_column_name`` as given (None: the second column).

    Returns:
        ``(anchor column, positive column)``.

    Raises:
        ValueError: When a named column does not exist, when the dataset has fewer than two columns, or when both
            roles would use the same column.
    """
    for role, name in (("anchor_column_name", anchor), ("positive_column_name", positive)):
        if name and name not in columns:
            raise ValueError(
                f"{role}={name!r} is not a column of the dataset; its columns are {list(columns)}. Pass one of "
                f"them, or leave {role}=None to use the {'first' if role.startswith('anchor') else 'second'} column."
            )
    if len(columns) < 2:
        raise ValueError(
            f"mine_hard_negatives expects a dataset with an anchor and a positive column; found only {list(columns)}. "
            "Add a column of positives (one relevant text per anchor)."
        )
    anchor = anchor or columns[0]
    positive = positive or columns[1]
    if anchor == positive:
        raise ValueError(
            f"The anchor and the positive column are both {anchor!r}. Name two different columns with "
            "anchor_column_name and positive_column_name."
        )
    return anchor, positive


def resolve_output_format(request: MiningRequest) -> tuple[str, bool]:
    """The output format and whether it carries scores, after the deprecated spellings and ``include_positives``.

    Args:
        request: The caller's arguments.

    Returns:
        ``(output_format, output_scores)``.

    Raises:
        ValueError: On an unknown output format.
    """
    output_format, output_scores = request.output_format, request.output_scores
    if request.as_triplets is not None:
        output_format = "triplet" if request.as_triplets else "n-tuple"
        logger.warning(
            "The `as_triplets` parameter is deprecated; use `output_format`. Setting `output_format` to `%s`.",
            output_format,
        )
    if output_format == "n-tuple-scores":
        logger.warning(
            '`output_format="n-tuple-scores"` is deprecated; use `output_format="n-tuple"` with '
            "`output_scores=True`, which gives the same output."
        )
        output_format, output_scores = "n-tuple", True
    if request.include_positives:
        _warn_include_positives(request)
        if output_format != "n-tuple":
            logger.warning(
                'With `include_positives=True`, `output_format` is set to "n-tuple" so that the ranking '
                "order (positives included) is kept."
            )
            output_format = "n-tuple"
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {OUTPUT_FORMATS} (or the deprecated 'n-tuple-scores'), got "
            f"{output_format!r}. Use output_scores=True to get scores instead of labels."
        )
    return output_format, output_scores


def _warn_include_positives(request: MiningRequest) -> None:
    changed = (
        request.range_min != 0
        or request.range_max is not None
        or request.filters.any_set
        or request.margin is not None
        or request.sampling_strategy != "top"
    )
    if changed:
        logger.warning(
            "With `include_positives=True`, setting `range_min`, `range_max`, `max_score`, `min_score`, "
            "`absolute_margin`, `relative_margin` or `sampling_strategy` away from their defaults may still drop "
            "the positives."
        )


def default_range_max(request: MiningRequest, filters: ScoreFilters, max_positives: int) -> tuple[int, str]:
    """``range_max`` as given, else sentence-transformers' default; plus a note when the FAISS GPU cap applied.

    The default leaves room for ``range_min`` skipped candidates, the negatives (ten times as many when a filter
    may drop some) and the positives.

    Args:
        request: The caller's arguments.
        filters: The resolved score filters.
        max_positives: The most dataset rows any anchor has.

    Returns:
        ``(range_max, note)``; the note (empty unless capped) is appended to range errors.
    """
    if request.range_max is not None:
        return request.range_max, ""
    widen = (
        filters.absolute_margin is not None
        or filters.relative_margin is not None
        or filters.max_score is not None
        or (request.has_cross_encoder and filters.min_score is not None)
    )
    range_max = request.range_min + request.num_negatives * (10 if widen else 1) + max_positives
    note = ""
    if request.faiss_gpus > 0 and range_max + max_positives > FAISS_GPU_MAX_RESULTS:
        range_max = FAISS_GPU_MAX_RESULTS - max_positives
        note = (
            f" range_max was capped to {range_max} because FAISS on GPU returns at most {FAISS_GPU_MAX_RESULTS} "
            "documents per query, some of them kept for the positives; use_faiss=False lifts that cap at the cost "
            "of more memory."
        )
        if request.verbose:
            print(
                f"FAISS on GPU returns at most {FAISS_GPU_MAX_RESULTS} documents per query, some of them kept for "
                f"the positives. Setting range_max to {range_max}."
            )
    if request.verbose:
        print(f"Setting range_max to {range_max} based on the provided parameters.")
    return range_max, note


def check_range(range_min: int, range_max: int, num_negatives: int, note: str = "") -> None:
    """Check that ``num_negatives`` candidates remain between ``range_min`` and ``range_max``.

    Args:
        range_min: Number of best candidates skipped.
        range_max: Number of best candidates considered.
        num_negatives: Negatives wanted per anchor.
        note: Appended to the error messages (the FAISS GPU cap).

    Raises:
        ValueError: When ``range_min`` is negative, not below ``range_max``, or leaves fewer than ``num_negatives``.
    """
    if range_min < 0:
        raise ValueError(f"range_min must be non-negative, got range_min={range_min}.")
    if range_min >= range_max:
        raise ValueError(
            f"range_min must be smaller than range_max, got range_min={range_min} and range_max={range_max}. Raise "
            f"range_max or lower range_min.{note}"
        )
    if num_negatives > range_max - range_min:
        raise ValueError(
            f"Cannot mine {num_negatives} negatives per anchor: only {range_max - range_min} candidates remain after "
            f"skipping the first range_min={range_min} of range_max={range_max}. Lower num_negatives or range_min, "
            f"or raise range_max.{note}"
        )
