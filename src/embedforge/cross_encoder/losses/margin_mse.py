"""MarginMSELoss: make a cross-encoder's score margin between two documents of a query equal a teacher's."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from embedforge.cross_encoder.losses.base import CrossEncoderLoss
from embedforge.losses.base import InputSpec, LabelKind
from embedforge.losses.functional.distillation import teacher_margins
from embedforge.losses.functional.pairs import regression_operands
from embedforge.model.protocols import ScoringModel

__all__ = ["MarginMSELoss"]


class MarginMSELoss(CrossEncoderLoss):
    r"""Mean squared error between the student's margins ``s(q, p) - s(q, n_j)`` and the teacher's.

    Per row a query ``q``, a first document ``p`` and ``k >= 1`` further documents ``n_1 … n_k``; with ``s`` the
    model's logit of a pair after ``activation_fn`` and ``M`` the teacher's score::

        loss = mean_{i, j} ( s(q_i, p_i) - s(q_i, n_ij) - (M(q_i, p_i) - M(q_i, n_ij)) )²

    The labels carry the teacher in either layout, told apart by their shape:

    ===============================================  ====================================================================
    Inputs                                           Labels
    ===============================================  ====================================================================
    (query, document_one, document_two) triplets     ``M(query, document_one) - M(query, document_two)`` (a float)
    (query, document_one, document_two) triplets     ``[M(query, document_one), M(query, document_two)]``
    (query, positive, negative_1, ..., negative_n)   ``[M(query, positive) - M(query, negative_i) for i in 1..n]``
    (query, positive, negative_1, ..., negative_n)   ``[M(query, positive), M(query, negative_1), ..., M(query, negative_n)]``
    ===============================================  ====================================================================

    Only differences are learned, so the student keeps its own offset, and the documents need not be a positive and
    a negative: both may be relevant (a negative margin says the second one is better), unlike
    :class:`~embedforge.cross_encoder.losses.MultipleNegativesRankingLoss`. Mind the scale of both sides: if the
    teacher's scores went through a sigmoid, give the student ``activation_fn=torch.nn.Sigmoid()`` too. The model
    needs ``num_labels=1``.

    Related: :class:`~embedforge.cross_encoder.losses.MSELoss` distills absolute scores of single pairs; the
    bi-encoder :class:`embedforge.losses.MarginMSELoss` distills the same margins into embeddings.

    References:
        Hofstätter et al. 2021, "Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
        Distillation", https://arxiv.org/abs/2010.02666.

    Args:
        model: A cross-encoder with ``num_labels=1`` (the student).
        activation_fn: Applied to every logit before the margins are taken; :class:`torch.nn.Identity` by default.
        **kwargs: Passed to :class:`torch.nn.MSELoss` (``reduction``).

    Raises:
        ValueError: If ``model`` is not a cross-encoder or has more than one label.

    Example:
        >>> import torch
        >>> from embedforge.cross_encoder import CrossEncoder
        >>> from embedforge.cross_encoder.losses import MarginMSELoss
        >>> student = CrossEncoder("path/to/small-model")  # doctest: +SKIP
        >>> queries = ["What are pandas?", "What is the capital of France?"]
        >>> positives = ["Pandas are a kind of bear.", "The capital of France is Paris."]
        >>> negatives = ["Pandas are a kind of fish.", "The capital of France is Berlin."]
        >>> teacher_scores = torch.tensor([[9.1, 2.3], [8.7, 0.4]])  # [M(q, p), M(q, n)] per row
        >>> MarginMSELoss(student)([queries, positives, negatives], teacher_scores).backward()  # doctest: +SKIP
    """  # noqa: E501

    input_spec = InputSpec(
        min_texts=3,
        max_texts=None,
        label=LabelKind.FLOAT_OR_FLOAT_LIST,
        description="(query, document_one, document_two) or (query, positive, negative_1, ..., negative_n) with "
        "teacher margins or raw teacher scores",
    )
    config_keys = ("activation_fn",)
    citation = """
@misc{hofstätter2021improving,
    title={Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge Distillation},
    author={Sebastian Hofstätter and Sophia Althammer and Michael Schröder and Mete Sertkan and Allan Hanbury},
    year={2021},
    eprint={2010.02666},
    archivePrefix={arXiv},
    primaryClass={cs.IR}
}
"""

    def __init__(
        self,
        model: ScoringModel,
        activation_fn: nn.Module = nn.Identity(),  # noqa: B008 - sentence-transformers' signature
        **kwargs: Any,
    ) -> None:
        super().__init__(model)
        self.activation_fn = activation_fn
        self.loss_fct = nn.MSELoss(**kwargs)

    def forward(
        self,
        inputs: list[list[Any]],
        labels: Tensor | list[Tensor] | None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """Score the (query, document) pairs of every document column and compute the loss.

        Args:
            inputs: ``[queries, documents_one, documents_two, ...]``, lists of ``batch`` texts.
            labels: ``(batch,)`` or ``(batch, k)`` teacher margins, or ``(batch, 1 + k)`` raw teacher scores (a
                tensor, or a list of ``batch`` per-row tensors as a list label column is collated).
            prompt: Prompt prepended to every query, or None.
            task: Routing task for models with a Router, or None.

        Returns:
            A scalar tensor (with the default ``reduction="mean"``).

        Raises:
            ValueError: With fewer than 3 columns, or labels that fit neither layout.
        """
        if len(inputs) < 3:
            raise ValueError(
                f"MarginMSELoss expects at least 3 text columns (query, document_one, document_two), got "
                f"{len(inputs)}. Add a second document column, or use MSELoss for (query, document) pairs."
            )
        queries, documents = inputs[0], inputs[1:]
        if labels is None:
            raise ValueError(
                "MarginMSELoss needs the teacher's margins or scores as labels, got none; add them as a 'label' column."
            )
        targets = teacher_margins(
            torch.stack(labels) if isinstance(labels, list) else labels, len(queries), len(documents) - 1
        )
        scores = [self.logits_from_pairs(list(zip(queries, column, strict=True)), prompt, task) for column in documents]
        margins = scores[0].unsqueeze(1) - torch.stack(scores[1:], dim=1)
        return self.loss_fct(*regression_operands(margins, targets.float()))

    def logits_from_pairs(
        self, pairs: list[tuple[str, str]], prompt: str | None = None, task: str | None = None
    ) -> Tensor:
        """The ``(len(pairs),)`` logits of ``(query, document)`` pairs after ``activation_fn``, with gradients."""
        return self.activation_fn(self.logits(pairs, prompt, task).view(-1))
