"""ListNetLoss: cross entropy between the label distribution and the score distribution over each query's list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from embedforge.cross_encoder.losses.listwise import ListwiseBatch, ListwiseLoss

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["ListNetLoss"]


class ListNetLoss(ListwiseLoss):
    r"""ListNet: match the softmax of the scores to the softmax of the labels, list by list.

    For a query with documents ``1..n``, scores ``s_i`` (logits after ``activation_fn``) and labels ``y_i``::

        P_y(i) = exp(y_i) / Σ_j exp(y_j)            (top-one probabilities of the labels)
        P_s(i) = exp(s_i) / Σ_j exp(s_j)            (top-one probabilities of the scores)
        loss   = - Σ_i P_y(i) · log P_s(i)

    averaged over the queries of the batch. Lists may have different lengths: padded cells get a ``-1e16`` score
    and a ``-inf`` label, so they carry no probability in either distribution.

    ========================================  =====================================  ======================
    Inputs                                    Labels                                 Model output labels
    ========================================  =====================================  ======================
    (query, [doc1, doc2, ..., docN])          [score1, score2, ..., scoreN]          1
    ========================================  =====================================  ======================

    Labels may be binary or graded. Since the labels go through a softmax, their scale matters: labels 0/1 give
    the relevant document ``e`` times the mass of an irrelevant one.

    Related: :class:`~embedforge.cross_encoder.losses.LambdaLoss` takes the same data and usually trains better;
    :class:`~embedforge.cross_encoder.losses.ListMLELoss` and
    :class:`~embedforge.cross_encoder.losses.PListMLELoss` model the whole permutation instead of the top one.

    References:
        Cao et al., "Learning to Rank: From Pairwise Approach to Listwise Approach", ICML 2007.
        Pobrotyn et al., "Context-Aware Learning to Rank with Self-Attention", https://arxiv.org/abs/2005.10084.

    Args:
        model: The cross-encoder to train; it must have one label.
        activation_fn: Applied to the logits before the loss; None (the default) for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries in the
            batch, a negative value for all pairs at once, a positive value for that many. Smaller values save
            memory, not results.

    Raises:
        ValueError: If ``model`` is not a cross-encoder with one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import ListNetLoss
        >>> model = CrossEncoder("path/to/model", num_labels=1)  # doctest: +SKIP
        >>> loss = ListNetLoss(model)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> documents = [["Pandas are a kind of bear.", "Pandas are kind of like fish."],
        ...              ["The capital of France is Paris.", "Paris is quite large.", "Berlin is in Germany."]]
        >>> labels = [torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.5, 0.0])]
        >>> loss([queries, documents], labels).backward()  # doctest: +SKIP
    """

    citation = """
@inproceedings{cao2007learning,
    title={Learning to Rank: From Pairwise Approach to Listwise Approach},
    author={Cao, Zhe and Qin, Tao and Liu, Tie-Yan and Tsai, Ming-Feng and Li, Hang},
    booktitle={Proceedings of the 24th international conference on Machine learning},
    pages={129--136},
    year={2007}
}
"""

    def __init__(
        self, model: ScoringModel, activation_fn: nn.Module | None = None, mini_batch_size: int | None = None
    ) -> None:
        super().__init__(model, activation_fn=activation_fn, mini_batch_size=mini_batch_size)

    def compute_loss(self, batch: ListwiseBatch) -> Tensor:
        """Mean over queries of the cross entropy between label and score top-one distributions.

        Args:
            batch: Activated scores and labels of every (query, document) pair.

        Returns:
            A scalar tensor.
        """
        scores = batch.score_grid(-1e16)
        targets = batch.label_grid(float("-inf")).softmax(dim=1)
        return nn.functional.cross_entropy(scores, targets)
