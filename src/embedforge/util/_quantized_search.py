"""Internal helpers shared by the FAISS and USearch searches of :mod:`embedforge.quantization`.

Both searches follow one plan: float queries are quantized to the corpus precision for the index search; if the
corpus is quantized and rescoring is on, ``top_k * rescore_multiplier`` candidates are fetched and re-ranked by the
dot product of the float query with the candidates' (dequantized or unpacked) stored vectors.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.util.quantization import (
    _BINARY_PRECISIONS,
    _SCALAR_PRECISIONS,
    Precision,
    _dequantize_embeddings,
    _get_quantization_ranges,
    quantize_embeddings,
)
from embedforge.util.search import SearchHit

if TYPE_CHECKING:
    from types import ModuleType

logger = logging.getLogger(__name__)

SearchOutput = tuple[list[list[SearchHit]], float] | tuple[list[list[SearchHit]], float, Any]
"""``(hits per query, search seconds)``, plus the index used when ``output_index=True``."""


def _import_backend(module: str, package: str, caller: str) -> ModuleType:
    """Import an optional search backend, or explain how to install it.

    Args:
        module: The module to import, e.g. ``"faiss"``.
        package: The pip package providing it, e.g. ``"faiss-cpu"``.
        caller: The public function that needs it, named in the error.

    Returns:
        The imported module.

    Raises:
        ImportError: If the backend is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = package.split("-", maxsplit=1)[0]
        raise ImportError(
            f"{caller} needs the optional `{module.split('.', maxsplit=1)[0]}` package, which is not installed. "
            f"Install it with `pip install {package}` (or `pip install embedforge[{extra}]`)."
        ) from error


def _check_corpus_arguments(
    caller: str,
    corpus_embeddings: np.ndarray | None,
    corpus_index: object | None,
    precision: str,
    allowed: tuple[str, ...],
) -> None:
    """Validate the corpus arguments shared by both search functions.

    Args:
        caller: The public function being called, named in the errors.
        corpus_embeddings: The corpus embeddings, or ``None``.
        corpus_index: A prebuilt index of the corpus, or ``None``.
        precision: The corpus precision asked for.
        allowed: The precisions the backend supports.

    Raises:
        ValueError: If both or neither of ``corpus_embeddings`` and ``corpus_index`` are given, or ``precision``
            is not in ``allowed``.
    """
    if corpus_embeddings is not None and corpus_index is not None:
        raise ValueError(
            f"{caller}: got both corpus_embeddings and corpus_index; pass exactly one. Pass corpus_index to reuse an "
            "index built earlier, else corpus_embeddings."
        )
    if corpus_embeddings is None and corpus_index is None:
        raise ValueError(f"{caller}: got neither corpus_embeddings nor corpus_index; pass exactly one of them.")
    if precision not in allowed:
        raise ValueError(
            f"{caller}: corpus_precision must be one of {list(allowed)}, got {precision!r}. Quantize the corpus "
            "with quantize_embeddings(embeddings, precision) to one of those and pass the same corpus_precision."
        )


@dataclass(frozen=True)
class QueryPlan:
    """How to query an index: the queries at the corpus precision and, when rescoring, the float queries.

    Attributes:
        search_queries: Queries at the corpus precision, shape ``(n_queries, stored_dim)``.
        rescore_queries: The float queries, shape ``(n_queries, dim)``, or ``None`` when not rescoring.
        ranges: ``(2, dim)`` scalar-quantization ranges used for the queries (and to dequantize candidates).
        corpus_precision: The precision the corpus is stored at.
        top_k: Number of hits to return per query.
        fetch_k: Number of candidates to fetch from the index per query.
    """

    search_queries: np.ndarray
    rescore_queries: np.ndarray | None
    ranges: np.ndarray | None
    corpus_precision: str
    top_k: int
    fetch_k: int

    def rescore(
        self, candidates: np.ndarray, indices: np.ndarray, valid: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Re-rank candidates by the dot product of the float query with the candidates' stored vectors.

        Args:
            candidates: The stored corpus vectors of each candidate, shape ``(n_queries, k, stored_dim)``.
            indices: Corpus ids of the candidates, shape ``(n_queries, k)``.
            valid: Which candidate slots are real matches (not padding), shape ``(n_queries, k)``.

        Returns:
            ``(indices, scores, valid)``, each of shape ``(n_queries, min(top_k, k))``, by decreasing score.

        Raises:
            ValueError: If the plan has no float queries to rescore with.
        """
        queries = self.rescore_queries
        if queries is None:
            raise ValueError("QueryPlan.rescore: this plan does not rescore (no float queries were kept).")
        if self.corpus_precision in _BINARY_PRECISIONS:  # packbits padded the last byte; drop those bits
            candidates = np.unpackbits(candidates.astype(np.uint8), axis=-1)[..., : queries.shape[-1]]
        candidates = candidates.astype(int)
        if self.corpus_precision in _SCALAR_PRECISIONS and self.ranges is not None:
            candidates = _dequantize_embeddings(candidates, self.corpus_precision, self.ranges)
        scores = np.einsum("ij,ikj->ik", queries, candidates).astype(np.float64, copy=False)
        scores[~valid] = -np.inf  # padding slots must never outrank real candidates
        order = np.argsort(-scores)[:, : self.top_k]
        rows = np.arange(len(queries))[:, None]
        return indices[rows, order], scores[rows, order], valid[rows, order]


def plan_queries(
    queries: np.ndarray,
    *,
    corpus_precision: Precision,
    corpus_is_quantized: bool,
    rescore: bool,
    rescore_multiplier: int,
    top_k: int,
    ranges: np.ndarray | None,
    calibration_embeddings: np.ndarray | None,
) -> QueryPlan:
    """Quantize float queries to the corpus precision and decide whether to rescore.

    Rescoring needs float queries, ``rescore=True`` and a quantized corpus; it fetches ``top_k *
    rescore_multiplier`` candidates. Otherwise a warning explains why ``rescore=True`` has no effect.

    Args:
        queries: Query embeddings of shape ``(n_queries, dim)``, float or already int8/uint8-quantized.
        corpus_precision: The precision the corpus is stored at.
        corpus_is_quantized: Whether the index holds quantized vectors.
        rescore: Whether the caller asked for rescoring.
        rescore_multiplier: Oversampling factor for the candidates that get rescored.
        top_k: Number of hits to return per query.
        ranges: ``(2, dim)`` scalar quantization ranges, or ``None``.
        calibration_embeddings: Embeddings to compute the ranges from, or ``None`` (then the queries are used).

    Returns:
        The plan for querying the index.
    """
    rescore_queries = None
    if queries.dtype in (np.uint8, np.int8):
        if rescore:
            logger.warning(
                "Rescoring is enabled but the query embeddings are quantized. Either pass `rescore=False` or "
                "don't quantize the query embeddings."
            )
    else:
        if rescore and not corpus_is_quantized:
            logger.warning(
                "Rescoring is enabled but the corpus is not quantized. Either pass `rescore=False` or quantize the "
                'corpus with `quantize_embeddings(embeddings, precision="...")` and pass `corpus_precision="..."`.'
            )
        rescore_queries = queries if rescore and corpus_is_quantized else None
        if rescore_queries is not None and corpus_precision in _SCALAR_PRECISIONS and ranges is None:
            ranges = _get_quantization_ranges(queries, corpus_precision, calibration_embeddings)
        queries = quantize_embeddings(queries, corpus_precision, ranges, calibration_embeddings)
    return QueryPlan(
        search_queries=queries,
        rescore_queries=rescore_queries,
        ranges=ranges,
        corpus_precision=corpus_precision,
        top_k=top_k,
        fetch_k=top_k * rescore_multiplier if rescore_queries is not None else top_k,
    )


def _format_hits(scores: np.ndarray, indices: np.ndarray, valid: np.ndarray) -> list[list[SearchHit]]:
    """Per-query lists of ``{"corpus_id", "score"}`` dicts from ``(n_queries, k)`` arrays, padding slots skipped.

    Args:
        scores: Scores of shape ``(n_queries, k)``.
        indices: Corpus ids of shape ``(n_queries, k)``.
        valid: Which slots are real matches, shape ``(n_queries, k)``.

    Returns:
        One list per query of hit dicts, in the given order.
    """
    return [
        [
            {"corpus_id": int(corpus_id), "score": float(score)}
            for score, corpus_id, is_valid in zip(row_scores, row_ids, row_valid, strict=True)
            if is_valid
        ]
        for row_scores, row_ids, row_valid in zip(scores, indices, valid, strict=True)
    ]
