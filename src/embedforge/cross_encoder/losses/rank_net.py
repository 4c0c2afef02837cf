"""RankNetLoss: the pairwise logistic loss over every correctly labelled pair of a query's documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from torch import nn

from embedforge.cross_encoder.losses.lambda_loss import LambdaLoss
from embedforge.cross_encoder.losses.weighting_schemes import NoWeightingScheme

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["RankNetLoss"]


class RankNetLoss(LambdaLoss):
    r"""RankNet: for every pair of documents with different labels, the better one must score higher.

    Each query's documents are sorted by score (logits after ``activation_fn``). For every pair of positions
    ``(i, j)`` in that order where document ``i`` has the strictly higher label and at least one of the two is
    in the model's top ``k``::

        loss = - Σ_{(q, i, j) kept} log σ(sigma · (s_i - s_j)) / |kept|

    with the logarithm in base 2 (``reduction_log="binary"``) or ``e`` (``"natural"``). This is
    :class:`~embedforge.cross_encoder.losses.LambdaLoss` with
    :class:`~embedforge.cross_encoder.losses.NoWeightingScheme`: every pair weighs the same, whatever its
    positions. Lists may have different lengths.

    ========================================  =====================================  ======================
    Inputs                                    Labels                                 Model output labels
    ========================================  =====================================  ======================
    (query, [doc1, doc2, ..., docN])          [score1, score2, ..., scoreN]          1
    ========================================  =====================================  ======================

    Related: :class:`~embedforge.cross_encoder.losses.LambdaLoss` weighs each pair by its effect on NDCG and,
    with its default NDCG-Loss2++ scheme, usually trains better;
    :class:`~embedforge.cross_encoder.losses.ADRMSELoss` was compared against RankNet in Rank-DistiLLM.

    References:
        Burges et al., "Learning to Rank using Gradient Descent", ICML 2005.

    Args:
        model: The cross-encoder to train; it must have one label.
        k: Only pairs with at least one document in the model's top ``k`` count; None (or 0) for all.
        sigma: Multiplies the score differences inside the sigmoid.
        eps: Lower bound of the ideal DCG (unused by the unweighted loss; kept for LambdaLoss's signature).
        reduction_log: ``"binary"`` (log2) or ``"natural"`` (ln).
        activation_fn: Applied to the logits before the loss; None (the default) for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries in the
            batch, a negative value for all pairs at once, a positive value for that many.

    Raises:
        ValueError: If ``model`` is not a cross-encoder with one label, or ``reduction_log`` is unknown.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import RankNetLoss
        >>> model = CrossEncoder("path/to/model", num_labels=1)  # doctest: +SKIP
        >>> loss = RankNetLoss(model)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> documents = [["Pandas are a kind of bear.", "Pandas are kind of like fish."],
        ...              ["The capital of France is Paris.", "Paris is quite large.", "Berlin is in Germany."]]
        >>> labels = [torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0, 0.0])]
        >>> loss([queries, documents], labels).backward()  # doctest: +SKIP
    """

    config_keys: ClassVar[tuple[str, ...]] = ("k", "sigma", "eps", "reduction_log", "activation_fn", "mini_batch_size")
    citation = """
@inproceedings{burges2005learning,
  title={Learning to Rank using Gradient Descent},
  author={Burges, Chris and Shaked, Tal and Renshaw, Erin and Lazier, Ari and Deeds, Matt and Hamilton, Nicole and Hullender, Greg},
  booktitle={Proceedings of the 22nd international conference on Machine learning},
  pages={89--96},
  year={2005}
}
"""  # noqa: E501

    def __init__(
        self,
        model: ScoringModel,
        k: int | None = None,
        sigma: float = 1.0,
        eps: float = 1e-10,
        reduction_log: Literal["natural", "binary"] = "binary",
        activation_fn: nn.Module | None = None,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__(
            model,
            weighting_scheme=NoWeightingScheme(),
            k=k,
            sigma=sigma,
            eps=eps,
            reduction_log=reduction_log,
            activation_fn=activation_fn,
            mini_batch_size=mini_batch_size,
        )
