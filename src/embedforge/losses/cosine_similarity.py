"""CosineSimilarityLoss: regress the cosine similarity of each pair onto its gold score."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from embedforge.losses import functional
from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["CosineSimilarityLoss"]


class CosineSimilarityLoss(Loss):
    """Make ``cos(u, v)`` of each pair match its gold score.

    With ``u_i = model(sentence_A_i)``, ``v_i = model(sentence_B_i)`` and gold scores ``y_i``::

        loss = loss_fct(cos_score_transformation(cos(u_i, v_i)), y_i)    # default: mean_i (cos(u_i, v_i) - y_i)²

    ========================  ================================
    Inputs                    Labels
    ========================  ================================
    (sentence_A, sentence_B)  float similarity score in [0, 1]
    ========================  ================================

    When to use: pairs with graded similarity scores when the cosine itself should approximate the score (e.g.
    for thresholding). For ranking quality :class:`CoSENTLoss` usually trains better and faster.

    Related: :class:`CoSENTLoss` and ``AnglELoss`` rank the pairs instead of regressing scores. The math lives in
    :func:`embedforge.losses.functional.cosine_similarity_loss`.

    References:
        Reimers and Gurevych 2019, "Sentence-BERT", https://arxiv.org/abs/1908.10084 (STS training).

    Args:
        model: The model to train.
        loss_fct: Regression loss between the (transformed) cosine similarities ``(batch,)`` and the float labels
            ``(batch,)``.
        cos_score_transformation: Applied to the cosine similarities before ``loss_fct``.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import CosineSimilarityLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = CosineSimilarityLoss(model)  # doctest: +SKIP
        >>> first = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> second = model.tokenize(["It's so sunny.", "She walked to the store."])  # doctest: +SKIP
        >>> loss([first, second], torch.tensor([1.0, 0.3])).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2, max_texts=2, label=LabelKind.FLOAT, description="(sentence_A, sentence_B) pairs with a score"
    )
    config_keys = ("loss_fct", "cos_score_transformation")

    def __init__(
        self,
        model: EmbeddingModel,
        loss_fct: nn.Module = nn.MSELoss(),  # noqa: B008 - sentence-transformers' signature
        cos_score_transformation: nn.Module = nn.Identity(),  # noqa: B008 - sentence-transformers' signature
    ) -> None:
        super().__init__(model)
        self.loss_fct = loss_fct
        self.cos_score_transformation = cos_score_transformation

    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Embed both columns and compute the loss.

        Args:
            sentence_features: The two tokenized columns, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` gold scores.

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: Two ``(batch, dim)`` tensors.
            labels: ``(batch,)`` gold scores.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without labels, or without one label per pair.
        """
        if labels is None:
            raise ValueError(
                "CosineSimilarityLoss needs a score per pair; add a 'score' (or 'label') column to the dataset."
            )
        return functional.cosine_similarity_loss(
            embeddings[0],
            embeddings[1],
            labels,
            loss_fct=self.loss_fct,
            cos_score_transformation=self.cos_score_transformation,
        )
