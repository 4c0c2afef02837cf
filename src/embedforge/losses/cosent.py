"""CoSENTLoss: rank the pairs of a batch by similarity in the order of their gold scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses import functional
from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.pairwise import pairwise_cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["CoSENTLoss"]


class CoSENTLoss(Loss):
    r"""CoSENT (Consistent SENTence embedding): every pair scored higher by the labels must be more similar.

    With ``s_i = scale * similarity_fct(a_i, b_i)`` for the pairs of the batch and gold scores ``y_i``::

        loss = log(1 + Σ_{(i, j): y_i > y_j} exp(s_j - s_i))

    Only the order of the labels matters, not their values; pairs with equal labels are not compared. The sum over
    pairs of pairs is computed in O(n log n) (sort by label, suffix ``logcumsumexp``), not as an n × n matrix.

    ========================  ======================
    Inputs                    Labels
    ========================  ======================
    (sentence_A, sentence_B)  float similarity score
    ========================  ======================

    Labels may also be ints or bools (e.g. 0/1 duplicate labels); they are only compared.

    When to use: pairs with graded similarity scores (STS-style data). It usually trains faster and better than
    :class:`CosineSimilarityLoss`, for which it is a drop-in replacement (and the trainer's default loss).

    Related: ``AnglELoss`` is CoSENT with ``pairwise_angle_sim``; :class:`CosineSimilarityLoss` regresses the
    scores instead of ranking them. The math lives in :func:`embedforge.losses.functional.cosent_loss`.

    References:
        Huang et al., "CoSENT: Consistent Sentence Embedding via Similarity Ranking", IEEE/ACM TASLP 2024,
        https://doi.org/10.1109/TASLP.2024.3402087.

    Args:
        model: The model to train.
        scale: Multiplies the similarities (inverse temperature).
        similarity_fct: Pairwise similarity ``(n, dim), (n, dim) -> (n,)``.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import CoSENTLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = CoSENTLoss(model)  # doctest: +SKIP
        >>> first = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> second = model.tokenize(["It's so sunny.", "She walked to the store."])  # doctest: +SKIP
        >>> loss([first, second], torch.tensor([1.0, 0.3])).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2, max_texts=2, label=LabelKind.FLOAT, description="(sentence_A, sentence_B) pairs with a score"
    )
    config_keys = ("scale", "similarity_fct")
    citation = """
@article{10531646,
    author={Huang, Xiang and Peng, Hao and Zou, Dongcheng and Liu, Zhiwei and Li, Jianxin and Liu, Kay and Wu, Jia and Su, Jianlin and Yu, Philip S.},
    journal={IEEE/ACM Transactions on Audio, Speech, and Language Processing},
    title={CoSENT: Consistent Sentence Embedding via Similarity Ranking},
    year={2024},
    doi={10.1109/TASLP.2024.3402087}
}
"""  # noqa: E501

    def __init__(
        self,
        model: EmbeddingModel,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_cos_sim,
    ) -> None:
        super().__init__(model)
        self.scale = scale
        self.similarity_fct = similarity_fct

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
            raise ValueError("CoSENTLoss needs a score per pair; add a 'score' (or 'label') column to the dataset.")
        return functional.cosent_loss(
            embeddings[0], embeddings[1], labels, scale=self.scale, similarity_fct=self.similarity_fct
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments, the similarity function by its short name."""
        return {"scale": self.scale, "similarity_fct": similarity_fct_name(self.similarity_fct)}
