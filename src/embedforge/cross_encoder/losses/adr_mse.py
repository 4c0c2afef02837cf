"""ADRMSELoss: discounted squared error between label ranks and differentiable approximate score ranks."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.listwise import ListwiseBatch, ListwiseLoss

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["ADRMSELoss"]


class ADRMSELoss(ListwiseLoss):
    r"""ADR-MSE (Approx Discounted Rank MSE): bring each document's approximate rank to its label rank.

    For a query with documents ``1..n``, scores ``s_i`` (logits after ``activation_fn``) and labels ``y_i``:

    - the target rank averages ties: ``r_i = #{j: y_j > y_i} + (#{j: y_j = y_i} + 1) / 2`` (``j`` ranging over
      all documents, ``i`` included), so documents with equal labels share a fractional rank;
    - the ApproxRank of the scores is ``r̂_i = 1 + Σ_{j ≠ i} σ(alpha · (s_j - s_i))``;
    - ``loss = Σ_{q, i} (r_i - r̂_i)² / log2(1 + r_i)`` divided by the number of documents in the batch.

    The ``1 / log2(1 + r_i)`` discount, as in nDCG, makes errors at the top of the list cost most. Lists may have
    different lengths; padded cells are left out of the ranks and of the mean.

    ========================================  =====================================  ======================
    Inputs                                    Labels                                 Model output labels
    ========================================  =====================================  ======================
    (query, [doc1, doc2, ..., docN])          [score1, score2, ..., scoreN]          1
    ========================================  =====================================  ======================

    Labels may be binary, graded or teacher scores (e.g. from an LLM); only their order matters.

    Related: :class:`~embedforge.cross_encoder.losses.RankNetLoss` is the pairwise loss Rank-DistiLLM compares it
    with (marginally better there); :class:`~embedforge.cross_encoder.losses.LambdaLoss` takes the same data and
    usually trains better than the other listwise losses.

    References:
        Schlatt et al., "Rank-DistiLLM: Closing the Effectiveness Gap Between Cross-Encoders and LLMs for
        Passage Re-Ranking", ECIR 2025, https://arxiv.org/abs/2405.07920.

    Args:
        model: The cross-encoder to train; it must have one label.
        alpha: Temperature of the ApproxRank sigmoid: larger values approach the hard rank but give weaker
            gradients to well-separated pairs.
        activation_fn: Applied to the logits before the loss; None (the default) for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries in the
            batch, a negative value for all pairs at once, a positive value for that many.

    Raises:
        ValueError: If ``model`` is not a cross-encoder with one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import ADRMSELoss
        >>> model = CrossEncoder("path/to/model", num_labels=1)  # doctest: +SKIP
        >>> loss = ADRMSELoss(model)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> documents = [["Pandas are a kind of bear.", "Pandas are kind of like fish."],
        ...              ["The capital of France is Paris.", "Paris is quite large.", "Berlin is in Germany."]]
        >>> labels = [torch.tensor([0.95, 0.1]), torch.tensor([0.98, 0.92, 0.2])]
        >>> loss([queries, documents], labels).backward()  # doctest: +SKIP
    """

    config_keys: ClassVar[tuple[str, ...]] = ("alpha", "activation_fn", "mini_batch_size")
    citation = """
@inproceedings{schlatt2025rankdistillm,
    title={Rank-DistiLLM: Closing the Effectiveness Gap Between Cross-Encoders and LLMs for Passage Re-ranking},
    author={Schlatt, Ferdinand and Fröbe, Maik and Scells, Harrisen and Zhuang, Shengyao and Koopman, Bevan and Zuccon, Guido and Stein, Benno and Potthast, Martin and Hagen, Matthias},
    booktitle={Advances in Information Retrieval (ECIR 2025)},
    year={2025},
    doi={10.1007/978-3-031-88714-7_31},
}
"""  # noqa: E501

    def __init__(
        self,
        model: ScoringModel,
        alpha: float = 1.0,
        activation_fn: nn.Module | None = None,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__(model, activation_fn=activation_fn, mini_batch_size=mini_batch_size)
        self.alpha = alpha

    def approximate_ranks(self, scores: Tensor, mask: Tensor) -> Tensor:
        """Differentiable ranks of the scores (ApproxRank): ``1 + Σ_{j ≠ i, j real} σ(alpha · (s_j - s_i))``.

        Args:
            scores: ``(queries, max_docs)`` scores.
            mask: ``(queries, max_docs)`` booleans, True on real documents.

        Returns:
            ``(queries, max_docs)`` approximate ranks, 1 for the best; meaningless on padded cells.
        """
        beats = torch.sigmoid(self.alpha * (scores[:, None, :] - scores[:, :, None])) * mask[:, None, :].float()
        # Each real document also compares with itself: sigmoid(0) = 0.5, taken back out.
        return 1.0 + beats.sum(dim=2) - 0.5 * mask.float()

    def compute_loss(self, batch: ListwiseBatch) -> Tensor:
        """Mean over documents of the discounted squared error between target and approximate ranks.

        Args:
            batch: Activated scores and labels of every (query, document) pair.

        Returns:
            A scalar tensor.
        """
        scores, labels, mask = batch.score_grid(-1e16), batch.label_grid(0.0), batch.mask()
        others, real_others = labels[:, None, :], mask[:, None, :]
        higher = ((others > labels[:, :, None]) & real_others).sum(dim=-1).float()
        tied = ((others == labels[:, :, None]) & real_others).sum(dim=-1).float()
        target_ranks = higher + (tied + 1.0) / 2.0
        errors = (target_ranks - self.approximate_ranks(scores, mask)) ** 2 / torch.log2(target_ranks + 1.0)
        return (errors * mask.float()).sum() / mask.sum()
