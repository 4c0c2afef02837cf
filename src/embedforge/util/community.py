"""Fast community detection: groups of embeddings that lie close (in cosine similarity) to a central embedding."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from embedforge.util.tensors import ArrayLike, _convert_to_tensor, normalize_embeddings

__all__ = ["community_detection"]

_Candidate = tuple[int, np.ndarray]
"""A candidate community: its central index and its member indices (center included), by decreasing score."""

_VECTORIZED_DEVICE_TYPES = ("cuda", "npu")


def _candidates_vectorized(
    cos_scores: Tensor, start: int, threshold: Tensor, min_community_size: int
) -> list[_Candidate]:
    """Candidate communities of one batch of centers, computed with whole-batch tensor operations (for GPUs).

    Args:
        cos_scores: Scores of the batch's centers against all embeddings, shape ``(batch, n)``.
        start: Index of the batch's first center.
        threshold: Minimum cosine similarity to the center, a scalar tensor.
        min_community_size: Minimum number of members (center included).

    Returns:
        One ``(center, members)`` per center with at least ``min_community_size`` members.
    """
    within_threshold = cos_scores >= threshold
    counts = within_threshold.sum(1)
    large_enough = counts >= min_community_size
    if not large_enough.any():
        return []
    counts = counts[large_enough]
    _, top_indices = cos_scores[large_enough].topk(k=int(counts.max()), largest=True)
    top_indices = top_indices.cpu()
    centers = (large_enough.nonzero(as_tuple=True)[0] + start).tolist()
    return [
        (center, members[:count].numpy().astype(np.uint32))
        for center, count, members in zip(centers, counts.tolist(), top_indices, strict=True)
    ]


def _candidates_looped(
    cos_scores: Tensor, start: int, threshold: Tensor, min_community_size: int, sort_max_size: int
) -> tuple[list[_Candidate], int]:
    """Candidate communities of one batch of centers, computed row by row (faster than the vectorized form on CPU).

    Only the ``sort_max_size`` best scores of a row are sorted; the window doubles (and stays doubled for later
    rows) until it reaches past the threshold.

    Args:
        cos_scores: Scores of the batch's centers against all embeddings, shape ``(batch, n)``.
        start: Index of the batch's first center.
        threshold: Minimum cosine similarity to the center, a scalar tensor.
        min_community_size: Minimum number of members (center included).
        sort_max_size: Current size of the sorted window, at most ``n``.

    Returns:
        ``(candidates, sort_max_size)``: one ``(center, members)`` per center with at least ``min_community_size``
        members, and the possibly enlarged window size to use for the next batch.
    """
    n = cos_scores.shape[1]
    candidates: list[_Candidate] = []
    smallest_in_top, _ = cos_scores.topk(k=min_community_size, largest=True)
    for row in range(len(smallest_in_top)):
        if smallest_in_top[row][-1] >= threshold:
            top_values, top_indices = cos_scores[row].topk(k=sort_max_size, largest=True)
            while top_values[-1] >= threshold and sort_max_size < n:
                sort_max_size = min(2 * sort_max_size, n)
                top_values, top_indices = cos_scores[row].topk(k=sort_max_size, largest=True)
            members = top_indices[top_values >= threshold].cpu().numpy().astype(np.uint32)
            candidates.append((start + row, members))
    return candidates, sort_max_size


def _remove_overlaps(candidates: list[_Candidate], n: int, min_community_size: int) -> list[list[int]]:
    """Keep the largest candidates first; later ones lose already-claimed members and are dropped if too small.

    Args:
        candidates: Candidate communities, in any order.
        n: Number of embeddings.
        min_community_size: Minimum number of members a community must keep.

    Returns:
        Disjoint communities (center first), largest first.
    """
    claimed = np.zeros(n, dtype=bool)
    communities: list[list[int]] = []
    for center, members in sorted(candidates, key=lambda candidate: len(candidate[1]), reverse=True):
        if claimed[center]:
            continue
        unclaimed = members[~claimed[members]]
        if len(unclaimed) >= min_community_size:
            community = [center, *unclaimed[unclaimed != center].tolist()]
            communities.append(community)
            claimed[community] = True
    return sorted(communities, key=len, reverse=True)


def community_detection(
    embeddings: ArrayLike,
    threshold: float = 0.75,
    min_community_size: int = 10,
    batch_size: int = 1024,
    show_progress_bar: bool = False,
) -> list[list[int]]:
    """Find communities: embeddings whose cosine similarity to a central embedding is at least ``threshold``.

    Every embedding is tried as a center; its community is all embeddings within ``threshold`` of it. Communities
    are then taken largest first, each dropping members already claimed by a larger one, and kept only if at least
    ``min_community_size`` members remain.

    Args:
        embeddings: Embeddings of shape ``(n, dim)`` (a single ``(dim,)`` embedding is one row).
        threshold: Minimum cosine similarity between a member and the center.
        min_community_size: Minimum number of members of a community, center included; at least 1.
        batch_size: Number of centers scored against all embeddings at once.
        show_progress_bar: Show a progress bar over the batches.

    Returns:
        Disjoint communities as lists of indices into ``embeddings``, largest first; the first index of each is its
        center, the others follow by decreasing similarity to it.

    Raises:
        ValueError: If ``min_community_size`` is smaller than 1.
    """
    if len(embeddings) == 0:
        return []
    if min_community_size < 1:
        raise ValueError(
            f"community_detection: min_community_size must be at least 1, got {min_community_size}. "
            "Pass min_community_size=1 to keep every community, even single embeddings."
        )
    tensor = _convert_to_tensor(embeddings)
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(0)
    if len(tensor) < min_community_size:
        return []

    from tqdm.auto import tqdm  # deferred: only the progress bar needs it

    threshold_tensor = torch.tensor(threshold, device=tensor.device)
    tensor = normalize_embeddings(tensor)
    sort_max_size = min(max(2 * min_community_size, 50), len(tensor))
    candidates: list[_Candidate] = []
    starts = range(0, len(tensor), batch_size)
    for start in tqdm(starts, desc="Finding clusters", disable=not show_progress_bar):
        cos_scores = tensor[start : start + batch_size] @ tensor.T
        if tensor.device.type in _VECTORIZED_DEVICE_TYPES:
            candidates.extend(_candidates_vectorized(cos_scores, start, threshold_tensor, min_community_size))
        else:
            batch_candidates, sort_max_size = _candidates_looped(
                cos_scores, start, threshold_tensor, min_community_size, sort_max_size
            )
            candidates.extend(batch_candidates)
    return _remove_overlaps(candidates, len(tensor), min_community_size)
