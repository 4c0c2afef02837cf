"""EmbedDistillLoss: pull the student's embeddings onto pre-computed teacher embeddings."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional.distillation import (
    DISTANCE_METRICS,
    DistanceMetric,
    embedding_distance,
    teacher_embeddings_per_column,
)

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["EmbedDistillLoss"]


class EmbedDistillLoss(Loss):
    r"""Make each student embedding match the teacher's embedding of the same text (EmbedDistill, offline).

    For each text column ``c`` with student embeddings ``s_c`` ``(batch, dim)`` (passed through the optional
    learnable projection ``W``) and teacher embeddings ``t_c`` ``(batch, teacher_dim)`` from the labels::

        loss = mean_c distance(W s_c, t_c)
        distance: "mse"    mean_{i,k} (x_ik - t_ik)²
                  "l2"     mean_i ||x_i - t_i||₂          (the EmbedDistill paper's metric)
                  "cosine" mean_i (1 - cos(x_i, t_i))     (bounded; the default)

    =================================  =======================================================================
    Inputs                             Labels
    =================================  =======================================================================
    input                              teacher embeddings ``(batch_size, teacher_dim)``
    input_1, input_2, ..., input_N     teacher embeddings ``(batch_size, N, teacher_dim)`` (one per column)
    input_1, input_2, ..., input_N     teacher embeddings ``(batch_size, teacher_dim)`` (shared by every column)
    =================================  =======================================================================

    The teacher runs once, before training: store its embeddings (one list of floats per row, or one list per
    column) in a ``label`` column, computed with the teacher's own prompts and settings. Labels get no gradient.

    When to use: distilling a large embedding model into a smaller or faster one, or into a model for new languages
    (shared 2-D labels: the teacher's embedding of the English sentence is the target of the English and the
    translated column). With ``projection_dim`` the student may have another dimension than the teacher; the
    projection is trained with the student but is not part of the saved model (see :meth:`save_projection`).

    Related: :class:`MSELoss` is this loss with ``distance_metric="mse"``; ``MarginMSELoss`` and
    ``DistillKLDivLoss`` distill the teacher's scores instead of its embeddings. The math lives in
    :func:`embedforge.losses.functional.distillation.embedding_distance`.

    References:
        Kim et al. 2023, "EmbedDistill: A Geometric Knowledge Distillation for Information Retrieval",
        https://arxiv.org/abs/2301.12005.

    Args:
        model: The student model to train.
        distance_metric: ``"mse"``, ``"l2"`` or ``"cosine"``.
        projection_dim: If set, a learnable ``nn.Linear(student_dim, projection_dim)`` maps the student embeddings
            into the teacher's space before the distance (for a teacher of another dimension).

    Raises:
        ValueError: For an unknown ``distance_metric``, or a projection on a model of unknown embedding dimension.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import EmbedDistillLoss
        >>> student = SentenceTransformer("path/to/student")  # doctest: +SKIP
        >>> teacher = SentenceTransformer("path/to/teacher")  # doctest: +SKIP
        >>> texts = ["It's nice weather outside today.", "He drove to work."]
        >>> labels = teacher.encode(texts, convert_to_tensor=True)  # doctest: +SKIP
        >>> loss = EmbedDistillLoss(student, projection_dim=labels.shape[1])  # doctest: +SKIP
        >>> loss([student.tokenize(texts)], labels).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=1,
        max_texts=None,
        label=LabelKind.FLOAT_LIST,
        description="input or (input_1, ..., input_N) with teacher embeddings",
    )
    config_keys = ("distance_metric", "projection_dim")
    citation = """
@article{kim2023embeddistill,
    title={EmbedDistill: A Geometric Knowledge Distillation for Information Retrieval},
    author={Kim, Seungyeon and Rawat, Ankit Singh and Zaheer, Manzil and Jayasumana, Sadeep and Sadhanala, Veeranjaneyulu and Jitkrittum, Wittawat and Menon, Aditya Krishna and Fergus, Rob and Kumar, Sanjiv},
    year={2023},
    eprint={2301.12005},
    archivePrefix={arXiv},
    primaryClass={cs.IR}
}
"""  # noqa: E501

    def __init__(
        self,
        model: EmbeddingModel,
        distance_metric: DistanceMetric = "cosine",
        projection_dim: int | None = None,
    ) -> None:
        super().__init__(model)
        if distance_metric not in DISTANCE_METRICS:
            raise ValueError(f"distance_metric must be one of {DISTANCE_METRICS}, but got {distance_metric!r}.")
        self.distance_metric: DistanceMetric = distance_metric
        self.projection_dim = projection_dim
        self.projection: nn.Linear | None = None
        if projection_dim is not None:
            self.projection = nn.Linear(self._student_dim(), projection_dim, device=model.device)

    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Embed every column and compare with the teacher embeddings.

        Args:
            sentence_features: One tokenized batch per text column, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch, teacher_dim)`` or ``(batch, num_columns, teacher_dim)`` teacher embeddings.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without labels, or with labels of the wrong shape.
        """
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} needs pre-computed teacher embeddings as labels: encode the texts once with "
                "the teacher and store them in a 'label' column, e.g. with dataset.map(...)."
            )
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, teacher_embeddings_per_column(labels, len(embeddings)))

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], teacher_embeddings: list[Tensor]) -> Tensor:
        """The loss of already computed student and teacher embeddings.

        Args:
            embeddings: One ``(batch, dim)`` student tensor per column.
            teacher_embeddings: One ``(batch, teacher_dim)`` teacher tensor per column.

        Returns:
            Scalar loss, the mean over columns of each column's distance.
        """
        losses = []
        for student, teacher in zip(embeddings, teacher_embeddings, strict=True):
            projected = self.projection(student) if self.projection is not None else student
            losses.append(embedding_distance(projected, teacher, self.distance_metric))
        return torch.stack(losses).mean()

    def save_projection(self, path: str | os.PathLike[str]) -> None:
        """Write the projection's weights (safetensors, keys ``weight`` and ``bias``) for a later run.

        The trainer saves only the student model, so a trained projection is otherwise lost; reuse it in a second
        training stage with :meth:`load_projection`.

        Args:
            path: Destination file.

        Raises:
            ValueError: If the loss has no projection.
        """
        from safetensors.torch import save_model

        if self.projection is None:
            raise ValueError(
                f"{type(self).__name__} has no projection to save; create it with projection_dim=<teacher dimension>."
            )
        save_model(self.projection, str(path))

    def load_projection(self, path: str | os.PathLike[str]) -> None:
        """Load projection weights written by :meth:`save_projection`, creating the projection if there is none.

        Args:
            path: A safetensors file with ``weight`` ``(projection_dim, student_dim)`` and ``bias``.

        Raises:
            ValueError: If the saved shape does not fit the student's dimension or the existing projection.
        """
        from safetensors.torch import load_file

        state_dict = load_file(str(path))
        out_features, in_features = state_dict["weight"].shape
        if self.projection is None:
            student_dim = self._student_dim()
            if in_features != student_dim:
                raise ValueError(
                    f"The projection in {path} maps {in_features}-dim embeddings, but the student's embeddings have "
                    f"{student_dim} dimensions."
                )
            self.projection = nn.Linear(in_features, out_features, device=self.model.device)
            self.projection_dim = out_features
        elif (self.projection.in_features, self.projection.out_features) != (in_features, out_features):
            raise ValueError(
                f"The projection in {path} maps {in_features} -> {out_features} dimensions, but this loss's "
                f"projection maps {self.projection.in_features} -> {self.projection.out_features}."
            )
        self.projection.load_state_dict(state_dict)

    def get_config_dict(self) -> dict[str, Any]:
        """``distance_metric`` and ``projection_dim``."""
        return {"distance_metric": self.distance_metric, "projection_dim": self.projection_dim}

    def _student_dim(self) -> int:
        dimension = self.model.get_sentence_embedding_dimension()
        if dimension is None:
            raise ValueError(
                "The student's embedding dimension is unknown (no module reports it), so the projection cannot be "
                "built. Add a Pooling module, or train without projection_dim."
            )
        return dimension
