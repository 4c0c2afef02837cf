"""MarginMSELoss: regress the student's score margin between two documents onto a teacher's margin."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional.distillation import margin_mse_loss
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.pairwise import pairwise_dot_score

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["MarginMSELoss"]


class MarginMSELoss(Loss):
    r"""Make ``sim(q, p) - sim(q, n)`` equal the teacher's margin ``M(q, p) - M(q, n)``.

    With student similarities ``s = similarity_fct`` and, per row, a query ``q``, a first document ``p`` and
    ``k >= 1`` further documents ``n_1 … n_k``::

        loss = mean_{i, j} ( s(q_i, p_i) - s(q_i, n_ij) - (M(q_i, p_i) - M(q_i, n_ij)) )²

    The labels carry the teacher ``M`` (often a cross-encoder) in either layout; the layout is read from the
    label shape:

    ===============================================  =====================================================================
    Inputs                                           Labels
    ===============================================  =====================================================================
    (query, document_one, document_two) triplets     ``M(query, document_one) - M(query, document_two)`` (a float)
    (query, document_one, document_two) triplets     ``[M(query, document_one), M(query, document_two)]``
    (query, positive, negative_1, ..., negative_n)   ``[M(query, positive) - M(query, negative_i) for i in 1..n]``
    (query, positive, negative_1, ..., negative_n)   ``[M(query, positive), M(query, negative_1), ..., M(query, negative_n)]``
    ===============================================  =====================================================================

    The documents need not be a positive and a negative: both may be relevant, and a negative margin says the
    second is the better one. The label column is a float in one layout and a list in the others: the trainer's
    up-front check accepts either (the list length is checked against the columns at the first step).

    When to use: distilling a cross-encoder's scores into a bi-encoder (MS MARCO recipes). Each query only sees its
    own documents, so training is slower than with in-batch negatives.

    Related: ``DistillKLDivLoss`` distills the teacher's score distribution instead of its margins;
    :class:`MSELoss` distills embeddings; ``MultipleNegativesRankingLoss`` needs no teacher. The math lives in
    :func:`embedforge.losses.functional.distillation.margin_mse_loss`.

    References:
        Hofstätter et al. 2021, "Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
        Distillation", https://arxiv.org/abs/2010.02666.

    Args:
        model: The student model to train.
        similarity_fct: Pairwise similarity ``(n, dim), (n, dim) -> (n,)``; the dot product by default.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import MarginMSELoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = MarginMSELoss(model)  # doctest: +SKIP
        >>> query = model.tokenize(["He drove to work."])  # doctest: +SKIP
        >>> documents = [model.tokenize(["He took the car."]), model.tokenize(["She walked."])]  # doctest: +SKIP
        >>> loss([query, *documents], torch.tensor([[9.1, 2.3]])).backward()  # raw teacher scores  # doctest: +SKIP
    """  # noqa: E501

    input_spec = InputSpec(
        min_texts=3,
        max_texts=None,
        label=LabelKind.FLOAT_OR_FLOAT_LIST,
        description="(query, document_one, document_two) or (query, positive, negative_1, ..., negative_n) with "
        "teacher margins or raw teacher scores",
    )
    config_keys = ("similarity_fct",)
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
        self, model: EmbeddingModel, similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_dot_score
    ) -> None:
        super().__init__(model)
        self.similarity_fct = similarity_fct

    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Embed every column and compute the loss.

        Args:
            sentence_features: Query, first document and further documents, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` or ``(batch, k)`` teacher margins, or ``(batch, 1 + k)`` raw teacher scores.

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: ``(batch, dim)`` queries, first documents, then one tensor per further document column.
            labels: Teacher margins or raw teacher scores (see the class docstring).

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without labels, with fewer than 3 columns, or with labels that fit neither layout.
        """
        if labels is None:
            raise ValueError(
                "MarginMSELoss needs the teacher's margins or scores as labels; add them as a 'label' column."
            )
        if len(embeddings) < 3:
            raise ValueError(
                f"MarginMSELoss needs at least 3 text columns (query, document_one, document_two), got "
                f"{len(embeddings)}."
            )
        return margin_mse_loss(embeddings, labels, self.similarity_fct)

    def get_config_dict(self) -> dict[str, Any]:
        """The similarity function by its short name (e.g. ``"pairwise_dot_score"``)."""
        return {"similarity_fct": similarity_fct_name(self.similarity_fct)}
