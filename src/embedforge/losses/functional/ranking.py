"""Multiple-negatives ranking (InfoNCE) math: logits of every direction, hardness penalties, the loss.

Shapes: ``batch`` is the number of examples whose loss is computed here; ``world`` is the number of examples
whose embeddings are visible (``world == batch`` unless the embeddings were gathered across processes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal, cast

import torch
from torch import Tensor

from embedforge.util.similarity import cos_sim

__all__ = [
    "DIRECTIONS",
    "HARDNESS_MODES",
    "Direction",
    "HardnessMode",
    "PartitionMode",
    "check_ranking_options",
    "multiple_negatives_ranking_loss",
    "ranking_logits",
    "ranking_loss_from_logits",
]

logger = logging.getLogger(__name__)

Direction = Literal["query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"]
PartitionMode = Literal["joint", "per_direction"]
HardnessMode = Literal["in_batch_negatives", "hard_negatives", "all_negatives"]
SimilarityFct = Callable[[Tensor, Tensor], Tensor]

DIRECTIONS: tuple[Direction, ...] = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
"""Every interaction term of the ranking loss, in the order their logits are concatenated."""
HARDNESS_MODES: tuple[HardnessMode, ...] = ("in_batch_negatives", "hard_negatives", "all_negatives")


def check_ranking_options(
    scale: float,
    directions: Sequence[str],
    partition_mode: str,
    hardness_mode: str | None,
    hardness_strength: float,
) -> tuple[Direction, ...]:
    """Validate the options of :func:`multiple_negatives_ranking_loss` (the rules of sentence-transformers).

    Args:
        scale: Must be positive.
        directions: Non-empty subset of :data:`DIRECTIONS` that contains ``"query_to_doc"``.
        partition_mode: ``"joint"`` or ``"per_direction"``; the latter only without same-type directions.
        hardness_mode: None or one of :data:`HARDNESS_MODES`.
        hardness_strength: Must be non-negative.

    Returns:
        ``directions`` as a tuple.

    Raises:
        ValueError: On the first option that breaks a rule, saying which values are allowed.
    """
    if not scale > 0:
        raise ValueError(f"scale must be a positive value, got {scale}.")
    if not directions:
        raise ValueError(f"At least one direction must be specified; pick from {DIRECTIONS}.")
    unknown = set(directions) - set(DIRECTIONS)
    if unknown:
        raise ValueError(f"Invalid directions: {sorted(unknown)}. Valid: {DIRECTIONS}.")
    if "query_to_doc" not in directions:
        raise ValueError("'query_to_doc' direction is required (it contains the positive pair); add it to directions.")
    if partition_mode not in ("joint", "per_direction"):
        raise ValueError(f"partition_mode must be 'joint' or 'per_direction', got {partition_mode!r}.")
    if partition_mode == "per_direction" and set(directions) & {"query_to_query", "doc_to_doc"}:
        raise ValueError(
            "partition_mode='per_direction' requires every direction's candidate pool to include the positive pair, "
            "but 'query_to_query' and 'doc_to_doc' only hold same-type similarities and never include it, which "
            "makes their per-direction loss ill-defined. Use partition_mode='joint' with these directions."
        )
    if hardness_mode is not None and hardness_mode not in HARDNESS_MODES:
        raise ValueError(f"hardness_mode must be None or one of {HARDNESS_MODES}, got {hardness_mode!r}.")
    if hardness_strength < 0.0:
        raise ValueError(f"hardness_strength must be non-negative, got {hardness_strength}.")
    if hardness_mode is not None and hardness_strength == 0.0:
        logger.warning(
            "hardness_mode=%r is set but hardness_strength=0.0, so hardness weighting has no effect. Set "
            "hardness_strength to a positive value to enable it.",
            hardness_mode,
        )
    return cast("tuple[Direction, ...]", tuple(directions))


def _owner_mask(rows: Tensor, world: int, num_columns: int) -> Tensor:
    """Which candidates belong to each local example.

    Candidates are ``num_columns`` blocks of ``world`` rows (column-major), so candidate ``c`` belongs to example
    ``c % world``.

    Args:
        rows: ``(batch,)`` indices of the local examples among the ``world`` examples.
        world: Number of visible examples.
        num_columns: Number of candidate blocks.

    Returns:
        ``(batch, world * num_columns)`` bool mask, True where the candidate is the example's own.
    """
    owners = torch.arange(world * num_columns, device=rows.device) % world
    return owners.unsqueeze(0) == rows.unsqueeze(1)


def _similarity_blocks(
    queries: Tensor, docs: Sequence[Tensor], rows: Tensor, similarity_fct: SimilarityFct, directions: Sequence[str]
) -> dict[str, Tensor]:
    """Unscaled similarities of each selected direction, self-pairs removed (set to -inf).

    Args:
        queries: ``(world, dim)`` anchors.
        docs: ``1 + num_negatives`` tensors of ``(world, dim)``: positives, then hard negatives.
        rows: ``(batch,)`` indices of the local examples.
        similarity_fct: Similarity matrix function, ``(n, dim), (m, dim) -> (n, m)``.
        directions: The selected directions.

    Returns:
        Direction name → ``(batch, candidates)`` matrix, in :data:`DIRECTIONS` order: ``query_to_doc`` and
        ``doc_to_doc`` have ``world * len(docs)`` candidates, ``query_to_query`` and ``doc_to_query`` ``world``.
    """
    world = queries.size(0)
    all_docs = torch.cat(list(docs), dim=0)
    local_queries = queries[rows]
    local_positives = docs[0][rows]
    blocks = {"query_to_doc": similarity_fct(local_queries, all_docs)}
    if "query_to_query" in directions:
        same_query = _owner_mask(rows, world, 1)
        blocks["query_to_query"] = similarity_fct(local_queries, queries).masked_fill(same_query, -torch.inf)
    if "doc_to_query" in directions:
        blocks["doc_to_query"] = similarity_fct(queries, local_positives).T
    if "doc_to_doc" in directions:
        same_query = _owner_mask(rows, world, len(docs))
        blocks["doc_to_doc"] = similarity_fct(all_docs, local_positives).T.masked_fill(same_query, -torch.inf)
    return blocks


def _hardness_penalty(
    query_to_doc: Tensor, rows: Tensor, num_columns: int, hardness_mode: HardnessMode, hardness_strength: float
) -> Tensor:
    """``hardness_strength * stop_grad(similarity)`` on the negatives that ``hardness_mode`` selects, else 0.

    Args:
        query_to_doc: ``(batch, world * num_columns)`` unscaled query-to-document similarities.
        rows: ``(batch,)`` indices of the local examples.
        num_columns: ``1 + num_negatives``.
        hardness_mode: ``in_batch_negatives`` (other examples' documents), ``hard_negatives`` (the example's
            own hard negatives) or ``all_negatives`` (every document but the positive).
        hardness_strength: The factor ``alpha``.

    Returns:
        ``(batch, world * num_columns)`` penalties without gradient.
    """
    world = query_to_doc.size(1) // num_columns
    own = _owner_mask(rows, world, num_columns)
    is_positive_block = (torch.arange(world * num_columns, device=rows.device) < world).unsqueeze(0)
    if hardness_mode == "hard_negatives":
        selected = own & ~is_positive_block
    elif hardness_mode == "in_batch_negatives":
        selected = ~own
    else:
        selected = ~(own & is_positive_block)
    penalty = hardness_strength * query_to_doc.detach()
    return torch.where(selected, penalty, torch.zeros_like(penalty))


def ranking_logits(
    queries: Tensor,
    docs: Sequence[Tensor],
    *,
    scale: float = 20.0,
    similarity_fct: SimilarityFct = cos_sim,
    directions: Sequence[str] = ("query_to_doc",),
    hardness_mode: HardnessMode | None = None,
    hardness_strength: float = 0.0,
    offset: int = 0,
    batch_size: int | None = None,
) -> tuple[dict[str, Tensor], Tensor]:
    """Logits of the multiple-negatives ranking loss and the column of each example's positive.

    ``logits[d][i, c] = scale * sim_d(i, c)`` (+ a hardness penalty on ``query_to_doc`` negatives), where ``i``
    runs over the local examples ``offset .. offset + batch - 1`` and ``c`` over the candidates of direction ``d``.

    Args:
        queries: ``(world, dim)`` anchor embeddings.
        docs: ``(world, dim)`` positive embeddings, then any number of ``(world, dim)`` hard-negative embeddings.
        scale: Inverse temperature.
        similarity_fct: Similarity matrix function.
        directions: Subset of :data:`DIRECTIONS`, containing ``query_to_doc``.
        hardness_mode: Which negatives get the penalty ``hardness_strength * stop_grad(sim)``; None for none.
        hardness_strength: The penalty factor (not multiplied by ``scale``).
        offset: Index of the first local example among the ``world`` (``rank * batch`` after a gather).
        batch_size: Number of local examples; None for all ``world - offset``.

    Returns:
        ``(logits, labels)``: direction → ``(batch, candidates)`` logits, and the ``(batch,)`` column of each
        example's positive in ``logits["query_to_doc"]`` (``offset + i``).
    """
    world = queries.size(0)
    batch = world - offset if batch_size is None else batch_size
    rows = torch.arange(offset, offset + batch, device=queries.device)
    blocks = _similarity_blocks(queries, docs, rows, similarity_fct, directions)
    penalty = None
    if hardness_mode is not None and hardness_strength > 0.0:
        penalty = _hardness_penalty(blocks["query_to_doc"], rows, len(docs), hardness_mode, hardness_strength)
    logits = {direction: block * scale for direction, block in blocks.items()}
    if penalty is not None:
        logits["query_to_doc"] = logits["query_to_doc"] + penalty
    return logits, rows


def ranking_loss_from_logits(
    logits: dict[str, Tensor], labels: Tensor, partition_mode: PartitionMode = "joint"
) -> Tensor:
    """Mean over examples of ``log Z_i - logit_i(positive)``.

    Args:
        logits: Direction → ``(batch, candidates)`` logits, as from :func:`ranking_logits`.
        labels: ``(batch,)`` column of each positive in ``logits["query_to_doc"]``.
        partition_mode: ``joint``: ``Z_i`` sums over every direction's candidates (one softmax);
            ``per_direction``: ``log Z_i`` is the mean over directions of each direction's log-partition.

    Returns:
        Scalar loss.
    """
    query_to_doc = logits["query_to_doc"]
    positive = query_to_doc.gather(1, labels.unsqueeze(1)).squeeze(1)
    if partition_mode == "joint":
        log_partition = torch.logsumexp(torch.cat(list(logits.values()), dim=1), dim=1)
    else:
        per_direction = [torch.logsumexp(block, dim=1) for block in logits.values()]
        log_partition = torch.stack(per_direction).mean(dim=0)
    return (log_partition - positive).mean()


def multiple_negatives_ranking_loss(
    queries: Tensor,
    docs: Sequence[Tensor],
    *,
    scale: float = 20.0,
    similarity_fct: SimilarityFct = cos_sim,
    directions: Sequence[str] = ("query_to_doc",),
    partition_mode: PartitionMode = "joint",
    hardness_mode: HardnessMode | None = None,
    hardness_strength: float = 0.0,
    offset: int = 0,
    batch_size: int | None = None,
) -> Tensor:
    """InfoNCE with in-batch negatives: :func:`ranking_logits` then :func:`ranking_loss_from_logits`.

    Args:
        queries: ``(world, dim)`` anchor embeddings.
        docs: ``(world, dim)`` positives, then ``(world, dim)`` hard negatives (any number).
        scale: Inverse temperature.
        similarity_fct: Similarity matrix function.
        directions: Subset of :data:`DIRECTIONS`, containing ``query_to_doc``.
        partition_mode: ``joint`` or ``per_direction``.
        hardness_mode: None or one of :data:`HARDNESS_MODES`.
        hardness_strength: Hardness penalty factor.
        offset: Index of the first local example (``rank * batch`` after a gather).
        batch_size: Number of local examples; None for all ``world - offset``.

    Returns:
        Scalar loss, the mean over the local examples.

    Example:
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> round(multiple_negatives_ranking_loss(q, [q], scale=1.0).item(), 4)
        0.3133
    """
    logits, labels = ranking_logits(
        queries,
        docs,
        scale=scale,
        similarity_fct=similarity_fct,
        directions=directions,
        hardness_mode=hardness_mode,
        hardness_strength=hardness_strength,
        offset=offset,
        batch_size=batch_size,
    )
    return ranking_loss_from_logits(logits, labels, partition_mode)
