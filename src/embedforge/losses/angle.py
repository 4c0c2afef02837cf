"""AnglELoss: CoSENT with the angle similarity of AnglE, on scored pairs or on (anchor, positive, negatives)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind
from embedforge.losses.cosent import CoSENTLoss
from embedforge.losses.functional import check_label_count
from embedforge.util.pairwise import pairwise_angle_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["AnglELoss"]


class AnglELoss(CoSENTLoss):
    r"""AnglE (angle-optimized) loss: :class:`CoSENTLoss` with ``pairwise_angle_sim`` as the pair score.

    The cosine's gradient vanishes near its extremes; AnglE scores a pair instead by an angle difference in complex
    space: each embedding is split into a real and an imaginary half, and after L2 normalization
    ``s(x, y) = |Σ_k x_k y_k + Σ_k (x_im,k y_re,k - x_re,k y_im,k)|`` (see
    :func:`embedforge.util.pairwise_angle_sim`). With ``s_i = scale * s(a_i, b_i)`` and gold scores ``y_i``::

        loss = log(1 + Σ_{(i, j): y_i > y_j} exp(s_j - s_i))

    With three or more columns (anchor, positive, negative_1, …, negative_n) every row becomes ``n + 1`` pairs:
    ``(anchor, positive)`` with the row's label (1 without a label column) and each ``(anchor, negative_k)`` with
    ``1 - label``; CoSENT then ranks all these pairs together.

    =================================================  ======================
    Inputs                                             Labels
    =================================================  ======================
    (sentence_A, sentence_B) pairs                     float similarity score
    (anchor, positive, negative) triplets              none (or a score)
    (anchor, positive, negative_1, ..., negative_n)    none (or a score)
    =================================================  ======================

    The score is not an ordinary geometric angle and follows the authors' reference code, whose subtraction order
    differs from equation 3 of the paper (as in sentence-transformers).

    When to use: STS-style scored pairs, like CoSENT; the AnglE paper combines it with
    :class:`MultipleNegativesRankingLoss`.

    Related: :class:`CoSENTLoss` is this loss with ``pairwise_cos_sim``; :class:`CosineSimilarityLoss` regresses
    the scores instead. The math is :func:`embedforge.losses.functional.cosent_loss`.

    References:
        Li & Li, "AoE: Angle-optimized Embeddings for Semantic Textual Similarity", ACL 2024,
        https://aclanthology.org/2024.acl-long.101/ (https://huggingface.co/papers/2309.12871).

    Args:
        model: The model to train.
        scale: Multiplies the scores (inverse temperature).

    Raises:
        ValueError: (when called) For pairs without labels, or without one label per row.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import AnglELoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = AnglELoss(model)  # doctest: +SKIP
        >>> first = model.tokenize(["It's nice weather outside today.", "He drove to work."])  # doctest: +SKIP
        >>> second = model.tokenize(["It's so sunny.", "She walked to the store."])  # doctest: +SKIP
        >>> loss([first, second], torch.tensor([1.0, 0.3])).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2,
        max_texts=None,
        label=LabelKind.OPTIONAL,
        description="(sentence_A, sentence_B) pairs with a score, or (anchor, positive, negative_1, ..., negative_n) "
        "tuples with an optional score",
    )
    config_keys = ("scale", "similarity_fct")
    citation = """
@inproceedings{li-li-2024-aoe,
    title = "{A}o{E}: Angle-optimized Embeddings for Semantic Textual Similarity",
    author = "Li, Xianming and Li, Jing",
    year = "2024",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2024.acl-long.101/",
    doi = "10.18653/v1/2024.acl-long.101"
}
"""

    def __init__(self, model: EmbeddingModel, scale: float = 20.0) -> None:
        super().__init__(model, scale, similarity_fct=pairwise_angle_sim)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: Two ``(batch, dim)`` tensors, or ``(batch, dim)`` anchors, positives and negatives.
            labels: ``(batch,)`` scores; optional with three or more columns (then all 1).

        Returns:
            Scalar loss.

        Raises:
            ValueError: For pairs without labels, or without one label per row.
        """
        if len(embeddings) <= 2:
            if labels is None:
                raise ValueError(
                    "AnglELoss needs a score per pair for (sentence_A, sentence_B) data; add a 'score' (or 'label') "
                    "column, or give (anchor, positive, negative) columns, which need no labels."
                )
            return super().compute_loss_from_embeddings(embeddings, labels)
        anchors, others = embeddings[0], embeddings[1:]
        if labels is None:
            labels = torch.ones(anchors.size(0), device=anchors.device)
        labels = check_label_count(labels, anchors.size(0), type(self).__name__)
        pairs = [anchors.repeat(len(others), 1), torch.cat(others, dim=0)]
        pair_labels = torch.cat([labels, (1 - labels).repeat(len(others) - 1)], dim=0)
        return super().compute_loss_from_embeddings(pairs, pair_labels)
