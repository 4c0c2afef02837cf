"""MultipleNegativesRankingLoss for cross-encoders: pick each query's positive among in-batch and hard negatives.

The sampling of in-batch negatives and the loss over a score matrix are module functions, shared with
CachedMultipleNegativesRankingLoss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.model.protocols import ScoringModel

__all__ = [
    "MultipleNegativesRankingLoss",
    "activation_name",
    "check_num_negatives",
    "check_ranking_columns",
    "in_batch_ranking_loss",
    "sample_negative_indices",
    "sampled_negative_columns",
]

RANKING_INPUT_SPEC = InputSpec(
    min_texts=2,
    max_texts=None,
    label=LabelKind.NONE,
    description="(anchor, positive) pairs, (anchor, positive, negative) triplets, or "
    "(anchor, positive, negative_1, ..., negative_n) tuples",
)


class MultipleNegativesRankingLoss(CrossEncoderLoss):
    r"""InfoNCE for a cross-encoder: each anchor's positive must outscore other rows' documents and its negatives.

    For anchor ``a_i`` the candidates are its positive ``p_i``, ``num_negatives`` documents drawn at random from
    the *other* rows (their positives and hard negatives), and its own hard negatives ``n_i1 … n_ih``. Every
    (anchor, candidate) pair is scored by the model; with ``f = activation_fn`` and ``τ = scale``::

        loss = mean_i -log softmax( τ · f([s(a_i, p_i), s(a_i, r_i1), ..., s(a_i, n_ih)]) )[0]

    Unlike the bi-encoder loss, each candidate costs a model pass over the pair, so only ``num_negatives`` in-batch
    negatives are scored per anchor (all of them with ``num_negatives=None`` or when fewer are available). The
    sample is drawn per row without replacement, uniformly among the ``(batch - 1) · (1 + h)`` documents of the
    other rows (:func:`sample_negative_indices`); a row's own documents are never its in-batch negatives.

    =================================================  ======  =============
    Inputs                                             Labels  ``num_labels``
    =================================================  ======  =============
    (anchor, positive) pairs                           none    1
    (anchor, positive, negative) triplets              none    1
    (anchor, positive, negative_1, ..., negative_n)    none    1
    =================================================  ======  =============

    When to use: (query, relevant document) data without labels; add mined hard negatives
    (``mine_hard_negatives(..., output_format="triplet"`` or ``"n-tuple")``) for harder training, and use
    ``BatchSamplers.NO_DUPLICATES`` so that a row's positive does not reappear as another row's negative. The
    defaults (``num_negatives=4``, ``scale=10``, ``Sigmoid``) follow sentence-transformers and may be tuned.

    Related: :class:`~embedforge.cross_encoder.losses.CachedMultipleNegativesRankingLoss` gives the same value and
    gradients for much larger batches in bounded memory; the bi-encoder
    :class:`embedforge.losses.MultipleNegativesRankingLoss` scores all candidates at once from embeddings.

    References:
        Henderson et al. 2017, "Efficient Natural Language Response Suggestion for Smart Reply", section 4.4,
        https://arxiv.org/abs/1705.00652.

    Args:
        model: A cross-encoder with ``num_labels=1``.
        num_negatives: In-batch negatives sampled per anchor; None for all of them; 0 for none (only the hard
            negatives; sentence-transformers fails on 0).
        scale: Multiplies the activated scores (an inverse temperature); 0 leaves them unscaled.
        activation_fn: Applied to the logits before scaling; :class:`torch.nn.Sigmoid` by default, None for none.

    Raises:
        ValueError: If ``model`` is not a cross-encoder or has more than one label, or ``num_negatives`` is
            negative or not an integer.

    Example:
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import MultipleNegativesRankingLoss
        >>> model = CrossEncoder("path/to/model")  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> answers = ["Pandas are a kind of bear.", "The capital of France is Paris."]
        >>> MultipleNegativesRankingLoss(model)([queries, answers], None).backward()  # doctest: +SKIP
    """

    input_spec = RANKING_INPUT_SPEC
    config_keys = ("scale", "num_negatives", "activation_fn")

    def __init__(
        self,
        model: ScoringModel,
        num_negatives: int | None = 4,
        scale: float = 10.0,
        activation_fn: nn.Module | None = nn.Sigmoid(),  # noqa: B008 - sentence-transformers' signature
    ) -> None:
        super().__init__(model)
        self.num_negatives = check_num_negatives(type(self).__name__, num_negatives)
        self.scale = scale
        self.activation_fn = activation_fn

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None = None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Score each anchor with its positive, its sampled in-batch negatives and its hard negatives.

        Args:
            inputs: ``[anchors, positives, negatives_1, ...]``, lists of ``batch`` texts.
            labels: Ignored (the positive is always the second column).
            prompt: Prompt prepended to every anchor, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor.

        Raises:
            ValueError: With fewer than 2 columns or columns of different lengths.
        """
        check_ranking_columns(type(self).__name__, inputs)
        anchors = inputs[0]
        scores = [self.call_model_with_columns(anchors, inputs[1], prompt, task)]
        for negatives in sampled_negative_columns(inputs[1:], self.num_negatives):
            scores.append(self.call_model_with_columns(anchors, negatives, prompt, task))
        for negatives in inputs[2:]:
            scores.append(self.call_model_with_columns(anchors, negatives, prompt, task))
        return in_batch_ranking_loss(torch.stack(scores, dim=1), self.activation_fn, self.scale)

    def call_model_with_columns(
        self, anchors: Sequence[str], candidates: Sequence[str], prompt: str | None = None, task: str | None = None
    ) -> Tensor:
        """The ``(batch,)`` logits of the pairs ``(anchors[i], candidates[i])``, with gradients."""
        return self.logits(list(zip(anchors, candidates, strict=True)), prompt, task).squeeze(1)

    def get_config_dict(self) -> dict[str, Any]:
        """``scale``, ``num_negatives`` and ``activation_fn`` (its dotted class name) as sentence-transformers."""
        return {**super().get_config_dict(), "activation_fn": activation_name(self.activation_fn)}


def check_num_negatives(owner: str, num_negatives: int | None) -> int | None:
    """``num_negatives`` if it is None or a non-negative integer.

    Raises:
        ValueError: Naming the value found.
    """
    if num_negatives is None or (
        isinstance(num_negatives, int) and not isinstance(num_negatives, bool) and num_negatives >= 0
    ):
        return num_negatives
    raise ValueError(
        f"{owner}: num_negatives must be a non-negative integer (in-batch negatives per anchor) or None (all of "
        f"them), got {num_negatives!r}."
    )


def check_ranking_columns(owner: str, inputs: Sequence[Sequence[Any]]) -> None:
    """Check for an anchor and a positive column (hard-negative columns optional), all of one length.

    Raises:
        ValueError: Naming the number or lengths of the columns found.
    """
    if len(inputs) < 2:
        raise ValueError(
            f"{owner} expects at least 2 text columns (anchor, positive[, negative_1, ...]), got {len(inputs)}. Add "
            "the positive document of every anchor as the second column."
        )
    lengths = sorted({len(column) for column in inputs})
    if len(lengths) > 1:
        raise ValueError(
            f"{owner} expects text columns of one length, got lengths {lengths}. Pass one text of each column per row."
        )


def sample_negative_indices(batch_size: int, num_columns: int, num_negatives: int | None) -> Tensor:
    """Per anchor, the flat indices of its in-batch negatives among the candidate columns (as sentence-transformers).

    The candidates are the ``num_columns`` document columns laid end to end: index ``c * batch_size + j`` is row
    ``j`` of column ``c``. Row ``i`` may use every candidate of the other rows, ``(batch_size - 1) * num_columns``
    of them. If ``num_negatives`` is smaller than that, each row draws that many uniformly without replacement
    (``torch.multinomial``, from the global CPU generator, so ``torch.manual_seed`` makes it reproducible);
    otherwise (or with None) every candidate is taken, in order.

    Args:
        batch_size: Number of anchors.
        num_columns: Document columns: the positive and the hard negatives.
        num_negatives: Negatives per anchor, None for all.

    Returns:
        ``(batch_size, k)`` long indices into the flattened candidates.
    """
    if num_negatives == 0:
        return torch.zeros(batch_size, 0, dtype=torch.long)
    mask = ~torch.eye(batch_size, dtype=torch.bool).repeat(1, num_columns)
    available = batch_size * num_columns - num_columns
    if num_negatives is not None and num_negatives < available:
        return torch.multinomial(mask.float(), num_negatives)
    return torch.arange(batch_size * num_columns).repeat(batch_size, 1)[mask].reshape(batch_size, -1)


def sampled_negative_columns(documents: Sequence[Sequence[str]], num_negatives: int | None) -> list[list[str]]:
    """The in-batch negatives as columns: the ``j``-th sampled document of every anchor (see sample_negative_indices).

    Args:
        documents: The positive column, then the hard-negative columns, each of ``batch`` texts.
        num_negatives: Negatives per anchor, None for all.

    Returns:
        ``k`` lists of ``batch`` texts.
    """
    flat = [text for column in documents for text in column]
    indices = sample_negative_indices(len(documents[0]), len(documents), num_negatives)
    return [[flat[index] for index in column] for column in indices.T.tolist()]


def in_batch_ranking_loss(scores: Tensor, activation_fn: nn.Module | None, scale: float) -> Tensor:
    """Cross-entropy of ``scale * activation_fn(scores)`` with the positive in column 0.

    Args:
        scores: ``(batch, 1 + candidates)`` logits; column 0 holds each anchor's positive.
        activation_fn: Applied first, or None.
        scale: Multiplies the activated scores; 0 (or None) leaves them unscaled.

    Returns:
        Scalar loss, the mean over anchors.
    """
    if activation_fn is not None:
        scores = activation_fn(scores)
    if scale:
        scores = scores * scale
    return F.cross_entropy(scores, torch.zeros(scores.size(0), dtype=torch.long, device=scores.device))


def activation_name(activation_fn: nn.Module | None) -> str:
    """The dotted class name sentence-transformers writes for an activation (``"NoneType"`` for None)."""
    cls = type(activation_fn)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"
