"""LambdaLoss: pairwise logistic losses in the model's order, weighted to bound a ranking metric (NDCG)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.listwise import ListwiseBatch, ListwiseLoss
from embedforge.cross_encoder.losses.weighting_schemes import (
    BaseWeightingScheme,
    LambdaRankScheme,
    NDCGLoss1Scheme,
    NDCGLoss2PPScheme,
    NDCGLoss2Scheme,
    NoWeightingScheme,
)

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = [  # the schemes too: sentence-transformers defines them in this module
    "BaseWeightingScheme",
    "LambdaLoss",
    "LambdaRankScheme",
    "NDCGLoss1Scheme",
    "NDCGLoss2PPScheme",
    "NDCGLoss2Scheme",
    "NoWeightingScheme",
]

_DEFAULT_SCHEME = NDCGLoss2PPScheme()
"""Stands for "the default scheme" in the signature; each loss gets its own fresh instance."""

_REDUCTION_LOGS = ("natural", "binary")
_SCORE_DIFF_LIMIT = 1e8


class LambdaLoss(ListwiseLoss):
    r"""LambdaLoss: a weighted pairwise logistic loss whose weights make it a bound of NDCG (or NDCG@k).

    Each query's documents are sorted by score (logits after ``activation_fn``), best first. For positions
    ``i, j`` in that order, with scores ``s``, labels ``y``, gains ``G_i = (2^{y_i} - 1) / maxDCG`` and discounts
    ``D_i = log2(1 + i)``::

        loss = - Σ_{(q, i, j) kept} weight[q, i, j] · log σ(sigma · (s_i - s_j)) / |kept|

    with the logarithm in base 2 (``reduction_log="binary"``) or ``e`` (``"natural"``). A pair is kept when both
    documents are real, the first has the strictly higher label (any pair for NDCG-Loss1), and at least one of
    the two is in the model's top ``k``. ``maxDCG`` is the ideal DCG@k of the labels (at least ``eps``);
    negative labels count as 0 in gains. The weights come from ``weighting_scheme`` (see
    :mod:`~embedforge.cross_encoder.losses.weighting_schemes`):

    =============================  =====================================================================
    Scheme                         Weight of the pair ``(i, j)``
    =============================  =====================================================================
    ``NoWeightingScheme``          1 (RankNet)
    ``NDCGLoss1Scheme``            ``G_i / D_i``
    ``NDCGLoss2Scheme``            ``|G_i - G_j| · |1/D(|i-j|) - 1/D(|i-j|+1)|``
    ``LambdaRankScheme``           ``|G_i - G_j| · |1/D_i - 1/D_j|``
    ``NDCGLoss2PPScheme``          ``mu · NDCGLoss2 + LambdaRank`` (the default, ``mu = 10``)
    =============================  =====================================================================

    ========================================  =====================================  ======================
    Inputs                                    Labels                                 Model output labels
    ========================================  =====================================  ======================
    (query, [doc1, doc2, ..., docN])          [score1, score2, ..., scoreN]          1
    ========================================  =====================================  ======================

    Lists may have different lengths; labels may be binary or graded.

    Related: :class:`~embedforge.cross_encoder.losses.RankNetLoss` is this loss with ``NoWeightingScheme``;
    LambdaLoss with NDCG-Loss2++ usually trains better than :class:`~embedforge.cross_encoder.losses.ListNetLoss`,
    :class:`~embedforge.cross_encoder.losses.ListMLELoss` and :class:`~embedforge.cross_encoder.losses.PListMLELoss`
    on the same data.

    References:
        Wang et al., "The LambdaLoss Framework for Ranking Metric Optimization", CIKM 2018,
        https://marc.najork.org/papers/cikm2018.pdf.
        Pobrotyn et al., "Context-Aware Learning to Rank with Self-Attention", https://arxiv.org/abs/2005.10084.

    Args:
        model: The cross-encoder to train; it must have one label.
        weighting_scheme: The pair weights; by default a fresh ``NDCGLoss2PPScheme()``. None for
            ``NoWeightingScheme`` (RankNet).
        k: Only pairs with at least one document in the model's top ``k`` count (NDCG@k); None (or 0) for all.
        sigma: Multiplies the score differences inside the sigmoid.
        eps: Lower bound of ``maxDCG`` (lists without any positive label).
        reduction_log: ``"binary"`` (log2) or ``"natural"`` (ln).
        activation_fn: Applied to the logits before the loss; None (the default) for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries in the
            batch, a negative value for all pairs at once, a positive value for that many.

    Raises:
        ValueError: If ``model`` is not a cross-encoder with one label, ``weighting_scheme`` is not a
            :class:`~embedforge.cross_encoder.losses.BaseWeightingScheme`, or ``reduction_log`` is unknown.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import LambdaLoss, NDCGLoss2Scheme
        >>> model = CrossEncoder("path/to/model", num_labels=1)  # doctest: +SKIP
        >>> loss = LambdaLoss(model, weighting_scheme=NDCGLoss2Scheme(), k=10)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> documents = [["Pandas are a kind of bear.", "Pandas are kind of like fish."],
        ...              ["The capital of France is Paris.", "Paris is quite large.", "Berlin is in Germany."]]
        >>> labels = [torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0, 0.0])]
        >>> loss([queries, documents], labels).backward()  # doctest: +SKIP
    """

    config_keys: ClassVar[tuple[str, ...]] = (
        "weighting_scheme",
        "k",
        "sigma",
        "eps",
        "reduction_log",
        "activation_fn",
        "mini_batch_size",
    )
    citation = """
@inproceedings{wang2018lambdaloss,
  title={The LambdaLoss Framework for Ranking Metric Optimization},
  author={Wang, Xuanhui and Li, Cheng and Golbandi, Nadav and Bendersky, Michael and Najork, Marc},
  booktitle={Proceedings of the 27th ACM international conference on information and knowledge management},
  pages={1313--1322},
  year={2018}
}
"""

    def __init__(
        self,
        model: ScoringModel,
        weighting_scheme: BaseWeightingScheme | None = _DEFAULT_SCHEME,
        k: int | None = None,
        sigma: float = 1.0,
        eps: float = 1e-10,
        reduction_log: Literal["natural", "binary"] = "binary",
        activation_fn: nn.Module | None = None,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__(model, activation_fn=activation_fn, mini_batch_size=mini_batch_size)
        if reduction_log not in _REDUCTION_LOGS:
            raise ValueError(
                f"{type(self).__name__} expects reduction_log to be one of {_REDUCTION_LOGS}, got {reduction_log!r}. "
                "Use 'binary' (log2, the default) or 'natural' (ln)."
            )
        if weighting_scheme is _DEFAULT_SCHEME:
            weighting_scheme = NDCGLoss2PPScheme()
        elif weighting_scheme is None:
            weighting_scheme = NoWeightingScheme()
        elif not isinstance(weighting_scheme, BaseWeightingScheme):
            raise ValueError(
                f"{type(self).__name__} expects weighting_scheme to be a BaseWeightingScheme or None, got "
                f"{type(weighting_scheme).__name__}. Pass one of embedforge.cross_encoder.losses' schemes (e.g. "
                "NDCGLoss2PPScheme()), or subclass BaseWeightingScheme."
            )
        self.weighting_scheme = weighting_scheme
        self.k = k
        self.sigma = sigma
        self.eps = eps
        self.reduction_log = reduction_log

    def compute_loss(self, batch: ListwiseBatch) -> Tensor:
        """Mean weighted pairwise logistic loss over the kept pairs of every query.

        Args:
            batch: Activated scores and labels of every (query, document) pair.

        Returns:
            A scalar tensor (zero when no pair is kept).
        """
        scores = batch.score_grid(-1e16)
        labels = batch.label_grid(float("-inf"))
        sorted_scores, order = scores.sort(descending=True, dim=-1)
        ideal_labels, _ = labels.sort(descending=True, dim=-1)
        labels_by_score = labels.gather(1, order)
        keep = self._kept_pairs(labels_by_score)
        labels_by_score, ideal_labels = labels_by_score.clamp(min=0.0), ideal_labels.clamp(min=0.0)
        k = self.k or batch.max_docs
        positions = torch.arange(1, batch.max_docs + 1, device=scores.device).float()
        discount = torch.log2(1.0 + positions)[None, :]
        max_dcg = ((torch.pow(2, ideal_labels) - 1) / discount)[:, :k].sum(dim=-1).clamp(min=self.eps)
        gain = (torch.pow(2, labels_by_score) - 1) / max_dcg[:, None]
        weights = self.weighting_scheme(gain, discount, labels_by_score)
        differences = (sorted_scores[:, :, None] - sorted_scores[:, None, :]).clamp(
            min=-_SCORE_DIFF_LIMIT, max=_SCORE_DIFF_LIMIT
        )
        differences = differences.masked_fill(torch.isnan(differences), 0.0)
        losses = weights * nn.functional.logsigmoid(self.sigma * differences)
        if self.reduction_log == "binary":
            losses = losses / math.log(2)
        kept = losses[keep & _top_k_mask(batch.max_docs, k, scores.device)]
        return -kept.sum() / max(kept.numel(), 1)

    def _kept_pairs(self, labels_by_score: Tensor) -> Tensor:
        """``(queries, max_docs, max_docs)``: pairs of real documents (the first labelled higher, by default)."""
        label_differences = labels_by_score[:, :, None] - labels_by_score[:, None, :]
        keep = torch.isfinite(label_differences)
        if self.weighting_scheme.ordered_pairs_only:
            keep = keep & (label_differences > 0)
        return keep


def _top_k_mask(max_docs: int, k: int, device: torch.device) -> Tensor:
    """``(max_docs, max_docs)``: True where at least one of the two positions is among the first ``k``."""
    mask = torch.zeros((max_docs, max_docs), dtype=torch.bool, device=device)
    mask[:k, :] = True
    mask[:, :k] = True
    return mask
