"""GISTEmbed math: in-batch contrastive scores with false negatives removed by a guide model's similarities.

Shapes: ``batch`` is the number of this process's examples; ``world`` the number of candidate rows visible
(``world == batch`` unless candidates were gathered across processes, in which case this process's examples are
rows ``offset .. offset + batch - 1`` of every candidate matrix).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "MARGIN_STRATEGIES",
    "MarginStrategy",
    "check_margin_strategy",
    "gist_loss",
    "gist_scores",
    "pairwise_cosine_matrix",
    "suppress_false_negatives",
]

MarginStrategy = Literal["absolute", "relative"]
MARGIN_STRATEGIES: tuple[MarginStrategy, ...] = ("absolute", "relative")


def check_margin_strategy(margin_strategy: str) -> MarginStrategy:
    """Return ``margin_strategy`` if it is ``"absolute"`` or ``"relative"``.

    Raises:
        ValueError: Otherwise.
    """
    if margin_strategy not in MARGIN_STRATEGIES:
        raise ValueError(f"margin_strategy must be 'absolute' or 'relative', got {margin_strategy!r}.")
    return margin_strategy  # type: ignore[return-value]


def pairwise_cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of every row of ``a`` ``(n, dim)`` with every row of ``b`` ``(m, dim)``: ``(n, m)``.

    Computed as ``torch.nn.functional.cosine_similarity`` over broadcast pairs (eps 1e-8), the way
    sentence-transformers' GISTEmbedLoss does, so that thresholds on near-equal similarities decide alike.
    """
    return F.cosine_similarity(a.unsqueeze(1), b.unsqueeze(0), dim=-1)


def suppress_false_negatives(
    scores: Tensor,
    guide_scores: Tensor,
    threshold: Tensor,
    *,
    margin_strategy: MarginStrategy = "absolute",
    margin: float = 0.0,
    keep: Tensor | None = None,
) -> Tensor:
    """Set to ``-inf`` the scores of candidates the guide finds too similar to be negatives.

    A candidate is suppressed when ``guide_score > threshold - margin`` (absolute) or
    ``guide_score > threshold - |threshold| * margin`` (relative), ``threshold`` being the guide's similarity of
    the example's own positive.

    Args:
        scores: ``(rows, candidates)`` similarities of the trained model.
        guide_scores: ``(rows, candidates)`` similarities of the guide.
        threshold: ``(rows, 1)`` guide similarity of each row's positive pair.
        margin_strategy: ``"absolute"`` or ``"relative"``.
        margin: How far below the positive's guide similarity a candidate must stay.
        keep: ``(rows, candidates)`` bool mask of entries never suppressed (the positives), or None.

    Returns:
        ``scores`` with suppressed entries at ``-inf``.
    """
    limit = threshold - margin if margin_strategy == "absolute" else threshold - threshold.abs() * margin
    mask = guide_scores > limit
    if keep is not None:
        mask = mask & ~keep
    return scores.masked_fill(mask, -torch.inf)


def gist_scores(
    anchors: Tensor,
    candidates: Sequence[Tensor],
    guide_anchors: Tensor,
    guide_candidates: Sequence[Tensor],
    *,
    margin_strategy: MarginStrategy = "absolute",
    margin: float = 0.0,
    contrast_anchors: bool = True,
    contrast_positives: bool = True,
    offset: int = 0,
    begin: int = 0,
    end: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Cosine scores of anchors ``begin .. end - 1`` against every candidate, false negatives at ``-inf``.

    The score blocks, concatenated in this order, are: anchor–positive (every positive; the example's own is
    never suppressed), anchor–anchor (if ``contrast_anchors``; this process's anchors), positive–positive (if
    ``contrast_positives``; the example's positive against every positive) and anchor–negative per negative column.
    Each block is filtered with the guide's matching similarities, the threshold being the guide's similarity of
    the example's (anchor, positive) pair.

    Args:
        anchors: ``(batch, dim)`` anchor embeddings of this process.
        candidates: ``(world, dim)`` positives, then any number of ``(world, dim)`` negatives.
        guide_anchors: ``(batch, guide_dim)`` guide embeddings of the anchors.
        guide_candidates: The guide's embeddings of ``candidates``, same shapes with ``guide_dim``.
        margin_strategy: ``"absolute"`` or ``"relative"``.
        margin: See :func:`suppress_false_negatives`.
        contrast_anchors: Add the anchor–anchor block.
        contrast_positives: Add the positive–positive block.
        offset: Row of this process's first example in the candidate matrices (``rank * batch`` when gathered).
        begin: First anchor scored.
        end: One past the last anchor scored; None for ``batch``.

    Returns:
        ``(scores, labels)``: ``(rows, candidates_total)`` unscaled scores and ``(rows,)`` column of each row's
        positive (``offset + begin + row``).
    """
    end = anchors.size(0) if end is None else end
    positives, guide_positives = candidates[0], guide_candidates[0]
    rows = torch.arange(end - begin, device=anchors.device)
    labels = rows + offset + begin
    guided_positive, threshold, keep = _guided_positive(guide_anchors[begin:end], guide_positives, rows, labels)

    def filtered(left: Tensor, right: Tensor, guide_scores: Tensor, keep: Tensor | None = None) -> Tensor:
        return suppress_false_negatives(
            pairwise_cosine_matrix(left, right),
            guide_scores,
            threshold,
            margin_strategy=margin_strategy,
            margin=margin,
            keep=keep,
        )

    # Blocks are built one after the other (slice, then score), in sentence-transformers' order, so that autograd
    # sums the gradients of the shared embeddings in the same order (float for float the same gradients).
    blocks = [filtered(anchors[begin:end], positives, guided_positive, keep)]
    for left, right, guide_left, guide_right in _contrast_pairs(
        anchors,
        candidates,
        guide_anchors,
        guide_candidates,
        slice(begin, end),
        slice(offset + begin, offset + end),
        contrast_anchors=contrast_anchors,
        contrast_positives=contrast_positives,
    ):
        blocks.append(filtered(left, right, pairwise_cosine_matrix(guide_left, guide_right)))
    return torch.cat(blocks, dim=1), labels


def _guided_positive(
    guide_anchors: Tensor, guide_positives: Tensor, rows: Tensor, labels: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The guide's anchor–positive scores ``(rows, world)``, thresholds ``(rows, 1)`` and positives mask.

    The threshold of a row is the guide's similarity of its own positive; the bool mask ``(rows, world)`` marks
    the positives themselves, which are never suppressed.
    """
    guided_positive = pairwise_cosine_matrix(guide_anchors, guide_positives)
    threshold = guided_positive[rows, labels].unsqueeze(1)
    keep = torch.zeros_like(guided_positive, dtype=torch.bool)
    keep[rows, labels] = True
    return guided_positive, threshold, keep


def _contrast_pairs(
    anchors: Tensor,
    candidates: Sequence[Tensor],
    guide_anchors: Tensor,
    guide_candidates: Sequence[Tensor],
    rows: slice,
    own: slice,
    *,
    contrast_anchors: bool,
    contrast_positives: bool,
) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor]]:
    """``(trained rows, trained columns, guide rows, guide columns)`` of every score block after anchor–positive.

    ``rows`` selects the scored anchors among this process's; ``own`` the same examples among the candidates.
    Each block's slices are taken only when the block is reached.
    """
    positives, guide_positives = candidates[0], guide_candidates[0]
    if contrast_anchors:
        yield anchors[rows], anchors, guide_anchors[rows], guide_anchors
    if contrast_positives:
        yield positives[own], positives, guide_positives[own], guide_positives
    for negatives, guide_negatives in zip(candidates[1:], guide_candidates[1:], strict=True):
        yield anchors[rows], negatives, guide_anchors[rows], guide_negatives


def gist_loss(
    anchors: Tensor,
    candidates: Sequence[Tensor],
    guide_anchors: Tensor,
    guide_candidates: Sequence[Tensor],
    *,
    temperature: float = 0.01,
    margin_strategy: MarginStrategy = "absolute",
    margin: float = 0.0,
    contrast_anchors: bool = True,
    contrast_positives: bool = True,
    offset: int = 0,
    begin: int = 0,
    end: int | None = None,
) -> Tensor:
    """GISTEmbed loss: cross-entropy of each anchor's positive among :func:`gist_scores` divided by temperature.

    ``loss = mean_i [ logsumexp_c (score_ic / temperature) - score_i,pos / temperature ]`` over anchors
    ``begin .. end - 1`` (suppressed candidates contribute nothing).

    Args:
        anchors: ``(batch, dim)`` anchors of this process.
        candidates: ``(world, dim)`` positives, then ``(world, dim)`` negatives (any number).
        guide_anchors: The guide's ``(batch, guide_dim)`` anchors.
        guide_candidates: The guide's candidates.
        temperature: Divides the cosine scores.
        margin_strategy: ``"absolute"`` or ``"relative"``.
        margin: False-negative margin.
        contrast_anchors: Include anchor–anchor negatives.
        contrast_positives: Include positive–positive negatives.
        offset: Row of this process's first example among the candidates.
        begin: First anchor.
        end: One past the last anchor; None for all.

    Returns:
        Scalar, the mean over the selected anchors.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # each anchor equals its positive; the guide agrees
        >>> # anchor 0 scores: positive 1, other positive 0, itself (suppressed: 1 > 1 - 0.1), anchor 1 0, ...
        >>> round(gist_loss(e, [e], e, [e], temperature=1.0, margin=0.1).item(), 4)  # log(e + 3) - 1
        0.7437
    """
    scores, labels = gist_scores(
        anchors,
        candidates,
        guide_anchors,
        guide_candidates,
        margin_strategy=margin_strategy,
        margin=margin,
        contrast_anchors=contrast_anchors,
        contrast_positives=contrast_positives,
        offset=offset,
        begin=begin,
        end=end,
    )
    return F.cross_entropy(scores / temperature, labels)
