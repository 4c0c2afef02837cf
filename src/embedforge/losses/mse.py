"""MSELoss: regress the student's embeddings onto pre-computed teacher embeddings (multilingual distillation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from embedforge.losses.embed_distill import EmbedDistillLoss

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["MSELoss"]


class MSELoss(EmbedDistillLoss):
    r"""Mean squared error between student embeddings and teacher embeddings given as labels.

    For each text column ``c`` with student embeddings ``s_c`` (after the optional projection ``W``) and teacher
    embeddings ``t_c``, both ``(batch, dim)``::

        loss = mean_c mean_{i,k} ((W s_c)_ik - t_c,ik)²

    It is :class:`EmbedDistillLoss` with ``distance_metric="mse"``; labels and shapes are the same:

    =================================  =======================================================================
    Inputs                             Labels
    =================================  =======================================================================
    input                              teacher embeddings ``(batch_size, teacher_dim)``
    input_1, input_2, ..., input_N     teacher embeddings ``(batch_size, N, teacher_dim)`` (one per column)
    input_1, input_2, ..., input_N     teacher embeddings ``(batch_size, teacher_dim)`` (shared by every column)
    =================================  =======================================================================

    When to use: making a monolingual model multilingual (Reimers & Gurevych 2020): with (english, translation)
    columns and the teacher's embedding of the English sentence as a shared 2-D label, the student learns to map
    both the sentence and its translation to the teacher's vector. Also plain model compression.

    Related: :class:`EmbedDistillLoss` for the cosine or L2 distance; ``MarginMSELoss`` distills a teacher's score
    margins rather than its embeddings.

    References:
        Reimers and Gurevych 2020, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", https://arxiv.org/abs/2004.09813.

    Args:
        model: The student model to train.
        projection_dim: If set, a learnable ``nn.Linear(student_dim, projection_dim)`` maps the student embeddings
            into the teacher's space first (for a teacher of another dimension).

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import MSELoss
        >>> student = SentenceTransformer("path/to/student")  # doctest: +SKIP
        >>> teacher = SentenceTransformer("path/to/teacher")  # doctest: +SKIP
        >>> english, german = ["The first sentence"], ["Der erste Satz"]
        >>> labels = teacher.encode(english, convert_to_tensor=True)  # doctest: +SKIP
        >>> loss = MSELoss(student)  # doctest: +SKIP
        >>> loss([student.tokenize(english), student.tokenize(german)], labels).backward()  # doctest: +SKIP
    """

    config_keys = ("projection_dim",)
    citation = """
@inproceedings{reimers-2020-multilingual-sentence-bert,
    title = "Making Monolingual Sentence Embeddings Multilingual using Knowledge Distillation",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing",
    month = "11",
    year = "2020",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/2004.09813",
}
"""

    def __init__(self, model: EmbeddingModel, projection_dim: int | None = None) -> None:
        super().__init__(model, distance_metric="mse", projection_dim=projection_dim)

    def get_config_dict(self) -> dict[str, Any]:
        """``projection_dim`` (the metric is fixed)."""
        return {"projection_dim": self.projection_dim}
