"""PListMLELoss: Position-Aware ListMLE, the likelihood of the labelled order with weights on the top positions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.listwise import ListwiseBatch, ListwiseLoss
from embedforge.cross_encoder.losses.plist_mle_lambda_weight import PListMLELambdaWeight

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["PListMLELoss"]

_DEFAULT_LAMBDA_WEIGHT = PListMLELambdaWeight()
"""Stands for "the default weights" in the signature; each loss gets its own fresh instance."""


class PListMLELoss(ListwiseLoss):
    r"""Position-Aware ListMLE (p-ListMLE): maximize the Plackett-Luce likelihood of the labelled order.

    For a query whose documents, in their target order ``π`` (best first), have scores ``s_π(1), ..., s_π(n)``
    (logits after ``activation_fn``), each position ``r`` contributes the log-probability of picking its document
    among those not yet placed::

        log p_r = s_π(r) - log Σ_{t ≥ r} exp(s_π(t))
        loss    = - Σ_r w_r · log p_r

    averaged over the queries. ``w_r`` are the ``lambda_weight`` position weights normalized to sum to one per
    list (``w_r / (Σ w + 1e-10)``); with ``lambda_weight=None`` every ``w_r`` is 1, which is ListMLE. Padded cells
    are left out of the sums. If every query's loss is exactly zero (e.g. lists of one document), the loss is a
    constant zero.

    The target order is the input order (``respect_input_order=True``: the documents must come best first), or
    the order of the labels, highest first (``respect_input_order=False``). Only the order matters, not the
    label values; documents with equal labels keep an arbitrary order among themselves.

    ========================================  =====================================  ======================
    Inputs                                    Labels                                 Model output labels
    ========================================  =====================================  ======================
    (query, [doc1, doc2, ..., docN])          [score1, score2, ..., scoreN]          1
    ========================================  =====================================  ======================

    Related: :class:`~embedforge.cross_encoder.losses.ListMLELoss` is this loss without position weights
    (p-ListMLE usually trains better); :class:`~embedforge.cross_encoder.losses.LambdaLoss` takes the same data
    and usually trains better still; :class:`~embedforge.cross_encoder.losses.ListNetLoss` matches top-one
    distributions instead of the whole permutation.

    References:
        Lan et al., "Position-Aware ListMLE: A Sequential Learning Process for Ranking", UAI 2014.

    Args:
        model: The cross-encoder to train; it must have one label.
        lambda_weight: Position weights; by default a fresh :class:`PListMLELambdaWeight` (``2^(n - r) - 1``).
            None for no weights (ListMLE).
        activation_fn: Applied to the logits before the loss; None (the default) for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries in the
            batch, a negative value for all pairs at once, a positive value for that many.
        respect_input_order: True if the documents are already listed best first; False to order them by label.

    Raises:
        ValueError: If ``model`` is not a cross-encoder with one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import PListMLELoss
        >>> model = CrossEncoder("path/to/model", num_labels=1)  # doctest: +SKIP
        >>> loss = PListMLELoss(model, respect_input_order=False)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> documents = [["Pandas are kind of like fish.", "Pandas are a kind of bear."],
        ...              ["The capital of France is Paris.", "Paris is quite large.", "Berlin is in Germany."]]
        >>> labels = [torch.tensor([0.0, 1.0]), torch.tensor([2.0, 1.0, 0.0])]
        >>> loss([queries, documents], labels).backward()  # doctest: +SKIP
    """

    config_keys: ClassVar[tuple[str, ...]] = (
        "lambda_weight",
        "activation_fn",
        "mini_batch_size",
        "respect_input_order",
    )
    citation = """
@inproceedings{lan2014position,
  title={Position-Aware ListMLE: A Sequential Learning Process for Ranking},
  author={Lan, Yanyan and Zhu, Yadong and Guo, Jiafeng and Niu, Shuzi and Cheng, Xueqi},
  booktitle={UAI},
  volume={14},
  pages={449--458},
  year={2014}
}
"""

    def __init__(
        self,
        model: ScoringModel,
        lambda_weight: PListMLELambdaWeight | None = _DEFAULT_LAMBDA_WEIGHT,
        activation_fn: nn.Module | None = None,
        mini_batch_size: int | None = None,
        respect_input_order: bool = True,
    ) -> None:
        super().__init__(model, activation_fn=activation_fn, mini_batch_size=mini_batch_size)
        self.lambda_weight = PListMLELambdaWeight() if lambda_weight is _DEFAULT_LAMBDA_WEIGHT else lambda_weight
        self.respect_input_order = respect_input_order
        self.eps = 1e-10

    def compute_loss(self, batch: ListwiseBatch) -> Tensor:
        """Mean over queries of the (weighted) negative Plackett-Luce log-likelihood of the target order.

        Args:
            batch: Activated scores and labels of every (query, document) pair.

        Returns:
            A scalar tensor.
        """
        scores, mask = batch.score_grid(1e-16), batch.mask()
        ordered_scores, ordered_mask = scores, mask
        if not self.respect_input_order:
            _, order = batch.label_grid(float("-inf")).sort(descending=True, dim=1)
            ordered_scores, ordered_mask = scores.gather(1, order), mask.gather(1, order)
        remaining = ordered_scores.masked_fill(~ordered_mask, torch.finfo(ordered_scores.dtype).min)
        log_normalizers = remaining.flip(1).logcumsumexp(dim=1).flip(1)
        log_probs = ordered_scores - log_normalizers
        if self.lambda_weight is not None:
            weights = self.lambda_weight(mask)
            log_probs = log_probs * (weights / (weights.sum(dim=1, keepdim=True) + self.eps))
        per_query = -log_probs.masked_fill(~ordered_mask, 0.0).sum(dim=1)
        if not torch.any(per_query):
            return torch.tensor(0.0, device=per_query.device, requires_grad=True)
        return per_query.mean()
