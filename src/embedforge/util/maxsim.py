"""MaxSim (late-interaction, ColBERT-style) scores between multi-vector embeddings.

A multi-vector embedding holds one vector per token, shape ``(tokens, dim)``. The MaxSim score of a query ``q`` and
a document ``d`` is ``Σ_i max_j q_i · d_j``: each query token takes its best-matching document token. MeanMaxSim
divides by the number of real query tokens, so that scores of queries of different lengths are comparable; the
ranking of documents for one query is the same under both.

Each side is a padded ``(batch, tokens, dim)`` tensor or array, a list of ``(tokens_i, dim)`` items, or one 2-D
item (a batch of one). Masks mark real tokens (1/True) and padding (0/False): ``(batch, tokens)``, ``(tokens,)``
beside one 2-D item, or a list of per-item 1-D masks. Without a mask, padding is derived from the item lengths of a
list, and from all-zero token rows of a padded tensor. A document without any real token scores ``-1e9``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from embedforge.util._maxsim_core import (
    DEFAULT_CHUNK_ELEMENTS,
    MaskLike,
    MultiVector,
    _as_batch,
    _check_mask_width,
    _chunk,
    _device_of,
    _dim,
    _divide,
    _query_lengths,
    _score_all,
    _score_pairs,
    _spans,
    _widths,
)

__all__ = ["maxsim", "maxsim_pairwise", "mean_maxsim", "mean_maxsim_pairwise"]


def maxsim(
    a: MultiVector,
    b: MultiVector,
    a_mask: MaskLike = None,
    b_mask: MaskLike = None,
    chunk_elements: int | None = None,
    length_normalize: bool = False,
    device: str | torch.device | None = None,
) -> Tensor:
    """MaxSim score of every query in ``a`` against every document in ``b``.

    Args:
        a: Queries: ``(n_a, q_tokens, dim)``, a list of ``(q_tokens_i, dim)``, or one ``(q_tokens, dim)``.
        b: Documents: ``(n_b, d_tokens, dim)``, a list of ``(d_tokens_i, dim)``, or one ``(d_tokens, dim)``.
        a_mask: Query token mask; masked tokens add nothing to the sum. None derives it (see the module doc).
        b_mask: Document token mask; masked tokens never win the max. None derives it.
        chunk_elements: Element budget per chunk for the padded queries, documents and token-score tensor
            (one query-document pair may exceed it). None uses 100 million.
        length_normalize: Divide each score by its query's real token count (MeanMaxSim).
        device: Where to compute, moving one chunk at a time; None computes on the documents' device.

    Returns:
        float32 tensor of shape ``(n_a, n_b)`` on the documents' device (the queries' for numpy documents).

    Raises:
        ValueError: If a mask does not span the padded token count of its side.
        TypeError: If a mask is of an unsupported type.
    """
    a, a_mask = _as_batch(a, a_mask, "a_mask")
    b, b_mask = _as_batch(b, b_mask, "b_mask")
    if len(a) == 0 or len(b) == 0:
        return torch.zeros(len(a), len(b), dtype=torch.float32, device=_device_of(b) or _device_of(a))
    lengths = _query_lengths(a, a_mask) if length_normalize else None
    budget = chunk_elements if chunk_elements is not None else DEFAULT_CHUNK_ELEMENTS
    query_widths, document_widths = _widths(a), _widths(b)
    if a_mask is not None:
        a_mask = _check_mask_width(a_mask, max(query_widths), "a_mask").expand(len(a), -1)
    if b_mask is not None:
        b_mask = _check_mask_width(b_mask, max(document_widths), "b_mask").expand(len(b), -1)
    result_device = _device_of(b) or _device_of(a) or torch.device("cpu")
    scoring_device = torch.device(device) if device is not None else result_device

    dim, document_width = _dim(b), max(document_widths)
    rows = []
    for query_span in _spans(query_widths, document_width + _dim(a), budget - document_width * dim):
        queries, queries_mask = _chunk(a, a_mask, query_span, scoring_device, "a_mask")
        document_spans = _spans(document_widths, queries.shape[0] * queries.shape[1] + dim, budget - queries.numel())
        row = []
        for document_span in document_spans:
            documents, documents_mask = _chunk(b, b_mask, document_span, scoring_device, "b_mask")
            row.append(_score_all(queries, documents, queries_mask, documents_mask).to(result_device))
        rows.append(torch.cat(row, dim=1) if len(row) > 1 else row[0])
    scores = torch.cat(rows, dim=0) if len(rows) > 1 else rows[0]
    return _divide(scores, lengths, pairwise=False)


def maxsim_pairwise(
    a: MultiVector,
    b: MultiVector,
    a_mask: MaskLike = None,
    b_mask: MaskLike = None,
    chunk_elements: int | None = None,
    length_normalize: bool = False,
    device: str | torch.device | None = None,
) -> Tensor:
    """MaxSim score of each aligned query-document pair ``(a[i], b[i])``.

    Args:
        a: Queries: ``(n, q_tokens, dim)``, a list of ``(q_tokens_i, dim)``, or one ``(q_tokens, dim)``.
        b: Documents, as many as queries: ``(n, d_tokens, dim)``, a list, or one ``(d_tokens, dim)``.
        a_mask: Query token mask; masked tokens add nothing to the sum. None derives it (see the module doc).
        b_mask: Document token mask; masked tokens never win the max. None derives it.
        chunk_elements: Element budget per chunk of pairs for the padded queries, documents and token scores.
            None uses 100 million.
        length_normalize: Divide each score by its query's real token count (MeanMaxSim).
        device: Where to compute, moving one chunk at a time; None computes on the documents' device.

    Returns:
        float32 tensor of shape ``(n,)`` on the documents' device (the queries' for numpy documents).

    Raises:
        ValueError: If ``a`` and ``b`` hold different numbers of items, or a mask does not span its side.
        TypeError: If a mask is of an unsupported type.
    """
    a, a_mask = _as_batch(a, a_mask, "a_mask")
    b, b_mask = _as_batch(b, b_mask, "b_mask")
    if len(a) != len(b):
        raise ValueError(
            f"maxsim_pairwise scores a[i] against b[i], so `a` and `b` must hold as many items, got {len(a)} and "
            f"{len(b)}. Use maxsim to score every query against every document."
        )
    if len(a) == 0:
        return torch.zeros(0, dtype=torch.float32, device=_device_of(b) or _device_of(a))
    lengths = _query_lengths(a, a_mask) if length_normalize else None
    budget = chunk_elements if chunk_elements is not None else DEFAULT_CHUNK_ELEMENTS
    query_widths, document_widths = _widths(a), _widths(b)
    if a_mask is not None:
        a_mask = _check_mask_width(a_mask, max(query_widths), "a_mask")
    if b_mask is not None:
        b_mask = _check_mask_width(b_mask, max(document_widths), "b_mask")
    result_device = _device_of(b) or _device_of(a) or torch.device("cpu")
    scoring_device = torch.device(device) if device is not None else result_device

    query_width, dim = max(query_widths), _dim(b)
    scores = []
    for span in _spans(document_widths, query_width + dim, budget, cost_per_item=query_width * dim):
        queries, queries_mask = _chunk(a, a_mask, span, scoring_device, "a_mask")
        documents, documents_mask = _chunk(b, b_mask, span, scoring_device, "b_mask")
        scores.append(_score_pairs(queries, documents, queries_mask, documents_mask).to(result_device))
    return _divide(torch.cat(scores) if len(scores) > 1 else scores[0], lengths, pairwise=True)


def mean_maxsim(
    a: MultiVector,
    b: MultiVector,
    a_mask: MaskLike = None,
    b_mask: MaskLike = None,
    chunk_elements: int | None = None,
    length_normalize: bool = True,
    device: str | torch.device | None = None,
) -> Tensor:
    """MeanMaxSim of every query against every document: :func:`maxsim` divided by the query's token count.

    Takes :func:`maxsim`'s arguments; ``length_normalize`` defaults to True here, and False gives plain MaxSim.

    Returns:
        float32 tensor of shape ``(n_a, n_b)``, about ``[-1, 1]`` for normalized token embeddings.
    """
    return maxsim(a, b, a_mask, b_mask, chunk_elements=chunk_elements, length_normalize=length_normalize, device=device)


def mean_maxsim_pairwise(
    a: MultiVector,
    b: MultiVector,
    a_mask: MaskLike = None,
    b_mask: MaskLike = None,
    chunk_elements: int | None = None,
    length_normalize: bool = True,
    device: str | torch.device | None = None,
) -> Tensor:
    """MeanMaxSim of each aligned pair: :func:`maxsim_pairwise` divided by the query's token count.

    Takes :func:`maxsim_pairwise`'s arguments; ``length_normalize`` defaults to True here.

    Returns:
        float32 tensor of shape ``(n,)``.
    """
    return maxsim_pairwise(
        a, b, a_mask, b_mask, chunk_elements=chunk_elements, length_normalize=length_normalize, device=device
    )
