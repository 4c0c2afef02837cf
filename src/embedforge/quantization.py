"""Quantized embeddings and search over them with FAISS or USearch.

``quantize_embeddings`` lives in :mod:`embedforge.util.quantization` and is re-exported here. The search functions
import their backend lazily: install it with ``pip install faiss-cpu`` or ``pip install usearch`` (or the
``embedforge[faiss]`` / ``embedforge[usearch]`` extras).

Both searches index the corpus at ``corpus_precision`` and quantize float queries to match. Rescoring happens when
``rescore`` is true, the queries are floats and the corpus is quantized: ``top_k * rescore_multiplier`` candidates
are fetched and re-ranked by the dot product of the float query with the candidates' (dequantized or unpacked)
stored vectors.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from embedforge.util._quantized_search import (
    QueryPlan,
    SearchOutput,
    _check_corpus_arguments,
    _format_hits,
    _import_backend,
    plan_queries,
)
from embedforge.util.quantization import quantize_embeddings

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["quantize_embeddings", "semantic_search_faiss", "semantic_search_usearch"]

_FAISS_PRECISIONS = ("float32", "uint8", "ubinary")
_USEARCH_PRECISIONS = ("float32", "int8", "ubinary", "binary")


def _build_faiss_index(faiss: ModuleType, corpus_embeddings: np.ndarray, precision: str, exact: bool) -> Any:
    """A FAISS inner-product index (float32/uint8) or Hamming index (ubinary) holding ``corpus_embeddings``.

    Args:
        faiss: The imported faiss module.
        corpus_embeddings: Corpus of shape ``(n_corpus, dim)``, or ``(n_corpus, dim / 8)`` packed for ubinary.
        precision: The corpus precision.
        exact: Flat (exact) index if true, else HNSW.

    Returns:
        The filled index.
    """
    dim = corpus_embeddings.shape[1]
    if precision == "ubinary":
        index = faiss.IndexBinaryFlat(dim * 8) if exact else faiss.IndexBinaryHNSW(dim * 8, 16)
    elif exact:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    index.add(corpus_embeddings)
    return index


def _faiss_search(index: Any, plan: QueryPlan) -> tuple[np.ndarray, np.ndarray]:
    """Search a FAISS index and rescore if the plan says so.

    Args:
        index: A FAISS index of the corpus.
        plan: The queries and rescoring settings.

    Returns:
        ``(scores, indices)`` of shape ``(n_queries, top_k)``; FAISS marks missing results with id -1.
    """
    scores, indices = index.search(plan.search_queries, plan.fetch_k)
    if plan.rescore_queries is None:
        return scores, indices
    # reconstruct(-1) reads out of bounds, so padding slots get a zero placeholder (then score -inf)
    binary = plan.corpus_precision == "ubinary"
    placeholder = np.zeros(index.d // 8 if binary else index.d, dtype=np.uint8 if binary else np.float32)
    candidates = np.array([[index.reconstruct(int(i)) if i != -1 else placeholder for i in row] for row in indices])
    indices, scores, _ = plan.rescore(candidates, indices, indices != -1)
    return scores, indices


def semantic_search_faiss(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray | None = None,
    corpus_index: Any | None = None,
    corpus_precision: Literal["float32", "uint8", "ubinary"] = "float32",
    top_k: int = 10,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
    rescore: bool = True,
    rescore_multiplier: int = 2,
    exact: bool = True,
    output_index: bool = False,
) -> SearchOutput:
    """Semantic search with FAISS over (optionally quantized) corpus embeddings; see the module docstring.

    Args:
        query_embeddings: Queries of shape ``(n_queries, dim)``; keep them float to allow rescoring.
        corpus_embeddings: Corpus of shape ``(n_corpus, dim)`` (``(n_corpus, dim / 8)`` for ubinary), or None.
        corpus_index: A FAISS index of the corpus (e.g. from ``output_index=True``), instead of the embeddings.
        corpus_precision: ``"float32"``, ``"uint8"`` or ``"ubinary"``: how the corpus is stored.
        top_k: Number of hits per query.
        ranges: ``(2, dim)`` ranges the corpus was ``uint8``-quantized with; also used for the queries.
        calibration_embeddings: Embeddings to compute ``uint8`` ranges from when ``ranges`` is None.
        rescore: Rescore quantized-corpus candidates with the float queries.
        rescore_multiplier: Oversampling factor for the candidates that get rescored.
        exact: Exact (flat) search; ``False`` builds an HNSW index instead.
        output_index: Also return the FAISS index, to reuse it.

    Returns:
        ``(hits, seconds)`` or ``(hits, seconds, index)``; ``hits`` holds per query up to ``top_k`` dicts
        ``{"corpus_id": int, "score": float}`` by decreasing score.

    Raises:
        ImportError: If faiss is not installed (``pip install faiss-cpu``).
        ValueError: If both or neither corpus arguments are given, or ``corpus_precision`` is unsupported.
    """
    caller = "semantic_search_faiss"
    _check_corpus_arguments(caller, corpus_embeddings, corpus_index, corpus_precision, _FAISS_PRECISIONS)
    faiss = _import_backend("faiss", "faiss-cpu", caller)
    if corpus_embeddings is not None:
        corpus_index = _build_faiss_index(faiss, corpus_embeddings, corpus_precision, exact)
    plan = plan_queries(
        query_embeddings,
        corpus_precision=corpus_precision,
        corpus_is_quantized=corpus_precision != "float32",
        rescore=rescore,
        rescore_multiplier=rescore_multiplier,
        top_k=top_k,
        ranges=ranges,
        calibration_embeddings=calibration_embeddings,
    )
    start = time.time()
    scores, indices = _faiss_search(corpus_index, plan)
    elapsed = time.time() - start
    hits = _format_hits(scores, indices, indices != -1)
    return (hits, elapsed, corpus_index) if output_index else (hits, elapsed)


def _build_usearch_index(index_class: type, corpus_embeddings: np.ndarray, precision: str) -> Any:
    """A USearch index (cosine for float32, inner product for int8, Hamming for binary) holding the corpus.

    Args:
        index_class: ``usearch.index.Index``.
        corpus_embeddings: Corpus of shape ``(n_corpus, dim)``, or ``(n_corpus, dim / 8)`` packed for binary.
        precision: The corpus precision.

    Returns:
        The filled index, keyed by row number.
    """
    dim = corpus_embeddings.shape[1]
    if precision == "float32":
        index = index_class(ndim=dim, metric="cos", dtype="f32")
    elif precision == "int8":
        index = index_class(ndim=dim, metric="ip", dtype="i8")
    else:
        index = index_class(ndim=dim * 8, metric="hamming", dtype="b1")
        if precision == "binary":  # a b1 index reads raw bytes: undo the -128 offset of "binary"
            corpus_embeddings = corpus_embeddings.view(np.uint8) ^ 0x80
    index.add(np.arange(len(corpus_embeddings)), corpus_embeddings)
    return index


def _usearch_search(
    usearch_index: ModuleType, index: Any, plan: QueryPlan, exact: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Search a USearch index and rescore if the plan says so.

    Args:
        usearch_index: The imported ``usearch.index`` module.
        index: A USearch index of the corpus.
        plan: The queries and rescoring settings.
        exact: Brute-force search if true, else the approximate HNSW search.

    Returns:
        ``(scores, indices, valid)`` of shape ``(n_queries, k)``; ``valid`` is false for padding slots.
    """
    queries = plan.search_queries
    if plan.corpus_precision == "binary":
        queries = queries.view(np.uint8) ^ 0x80
    matches = index.search(queries, count=plan.fetch_k, exact=exact)
    scores, indices = np.atleast_2d(matches.distances), np.atleast_2d(matches.keys)
    # A batch search pads short result sets and reports the real number of matches in `counts`; a single query's
    # `Matches` holds only real matches.
    is_batch = isinstance(matches, usearch_index.BatchMatches)
    counts = np.reshape(matches.counts if is_batch else indices.shape[1], (-1, 1))
    valid = np.arange(indices.shape[1]) < counts
    if plan.rescore_queries is None or not valid.any():
        return scores, indices, valid
    safe_indices = np.where(valid, indices, indices[valid][0])  # any real key stands in for padding slots
    candidates = np.array([index.get(row) for row in safe_indices])
    indices, scores, valid = plan.rescore(candidates, indices, valid)
    return scores, indices, valid


def semantic_search_usearch(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray | None = None,
    corpus_index: Any | None = None,
    corpus_precision: Literal["float32", "int8", "ubinary", "binary"] = "float32",
    top_k: int = 10,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
    rescore: bool = True,
    rescore_multiplier: int = 2,
    exact: bool = True,
    output_index: bool = False,
) -> SearchOutput:
    """Semantic search with USearch over (optionally quantized) corpus embeddings; see the module docstring.

    Args:
        query_embeddings: Queries of shape ``(n_queries, dim)``; keep them float to allow rescoring.
        corpus_embeddings: Corpus of shape ``(n_corpus, dim)`` (``(n_corpus, dim / 8)`` for binary), or None.
        corpus_index: A ``usearch.index.Index`` of the corpus (e.g. from ``output_index=True``), instead.
        corpus_precision: ``"float32"``, ``"int8"``, ``"ubinary"`` or ``"binary"``: how the corpus is stored.
        top_k: Number of hits per query.
        ranges: ``(2, dim)`` ranges the corpus was ``int8``-quantized with; also used for the queries.
        calibration_embeddings: Embeddings to compute ``int8`` ranges from when ``ranges`` is None.
        rescore: Rescore quantized-corpus candidates with the float queries.
        rescore_multiplier: Oversampling factor for the candidates that get rescored.
        exact: Exact (brute-force) search; ``False`` uses the approximate HNSW search.
        output_index: Also return the USearch index, to reuse it.

    Returns:
        ``(hits, seconds)`` or ``(hits, seconds, index)``; ``hits`` holds per query up to ``top_k`` dicts
        ``{"corpus_id": int, "score": float}`` (USearch distances, lower is closer, unless rescored).

    Raises:
        ImportError: If usearch is not installed (``pip install usearch``).
        ValueError: If both or neither corpus arguments are given, or ``corpus_precision`` is unsupported.
    """
    caller = "semantic_search_usearch"
    _check_corpus_arguments(caller, corpus_embeddings, corpus_index, corpus_precision, _USEARCH_PRECISIONS)
    usearch_index = _import_backend("usearch.index", "usearch", caller)
    if corpus_embeddings is not None:
        corpus_index = _build_usearch_index(usearch_index.Index, corpus_embeddings, corpus_precision)
    plan = plan_queries(
        query_embeddings,
        corpus_precision=corpus_precision,
        corpus_is_quantized=corpus_index.dtype != usearch_index.ScalarKind.F32,
        rescore=rescore,
        rescore_multiplier=rescore_multiplier,
        top_k=top_k,
        ranges=ranges,
        calibration_embeddings=calibration_embeddings,
    )
    start = time.time()
    scores, indices, valid = _usearch_search(usearch_index, corpus_index, plan, exact)
    elapsed = time.time() - start
    hits = _format_hits(scores, indices, valid)
    return (hits, elapsed, corpus_index) if output_index else (hits, elapsed)
