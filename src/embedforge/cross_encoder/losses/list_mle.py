"""ListMLELoss: the Plackett-Luce likelihood of the labelled order of each query's documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from torch import nn

from embedforge.cross_encoder.losses.plist_mle import PListMLELoss

if TYPE_CHECKING:
    from embedforge.model.protocols import ScoringModel

__all__ = ["ListMLELoss"]


class ListMLELoss(PListMLELoss):
    r"""ListMLE: maximize the likelihood of the target order of each list under a Plackett-Luce model.

    For a query whose documents, in their target order ``π`` (best first), have scores ``s_π(1), ..., s_π(n)``
    (logits after ``activation_fn``)::

        loss = - Σ_r [ s_π(r) - log Σ_{t ≥ r} exp(s_π(t)) ]

    averaged over the queries: the score of each document must beat, in a softmax, those of all documents ranked
    below it. This is :class:`~embedforge.cross_encoder.losses.PListMLELoss` with ``lambda_weight=None`` (all
    positions weigh the same). Lists may have different lengths; padded cells are left out.

    The target order is the input order (``respect_input_order=True``: the documents must come best first), or
    the order of the labels, highest first (``respect_input_order=False``). Only the order matters.

    ========================================  =====================================  ======================
    Inputs                                    Labels                                 Model output labels
    ========================================  =====================================  ======================
    (query, [doc1, doc2, ..., docN])          [score1, score2, ..., scoreN]          1
    ========================================  =====================================  ======================

    Related: :class:`~embedforge.cross_encoder.losses.PListMLELoss` weighs the top positions more and usually
    trains better; :class:`~embedforge.cross_encoder.losses.LambdaLoss` takes the same data and usually trains
    better still.

    References:
        Xia et al., "Listwise Approach to Learning to Rank - Theory and Algorithm", ICML 2008,
        https://doi.org/10.1145/1390156.1390306.

    Args:
        model: The cross-encoder to train; it must have one label.
        activation_fn: Applied to the logits before the loss; None (the default) for the identity.
        mini_batch_size: Pairs scored per forward pass: None (or 0) for as many as there are queries in the
            batch, a negative value for all pairs at once, a positive value for that many.
        respect_input_order: True if the documents are already listed best first; False to order them by label.

    Raises:
        ValueError: If ``model`` is not a cross-encoder with one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import ListMLELoss
        >>> model = CrossEncoder("path/to/model", num_labels=1)  # doctest: +SKIP
        >>> loss = ListMLELoss(model)  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> documents = [["Pandas are a kind of bear.", "Pandas are kind of like fish."],
        ...              ["The capital of France is Paris.", "Paris is quite large.", "Berlin is in Germany."]]
        >>> labels = [torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0, 0.0])]
        >>> loss([queries, documents], labels).backward()  # doctest: +SKIP
    """

    config_keys: ClassVar[tuple[str, ...]] = ("activation_fn", "mini_batch_size", "respect_input_order")
    citation = """
@inproceedings{10.1145/1390156.1390306,
    title = {Listwise Approach to Learning to Rank - Theory and Algorithm},
    author = {Xia, Fen and Liu, Tie-Yan and Wang, Jue and Zhang, Wensheng and Li, Hang},
    booktitle = {Proceedings of the 25th International Conference on Machine Learning},
    pages = {1192-1199},
    year = {2008},
    url = {https://doi.org/10.1145/1390156.1390306},
}
"""

    def __init__(
        self,
        model: ScoringModel,
        activation_fn: nn.Module | None = None,
        mini_batch_size: int | None = None,
        respect_input_order: bool = True,
    ) -> None:
        super().__init__(
            model,
            lambda_weight=None,
            activation_fn=activation_fn,
            mini_batch_size=mini_batch_size,
            respect_input_order=respect_input_order,
        )
