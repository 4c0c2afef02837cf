"""DistillKLDivLoss: match the student's distribution over candidate documents to a teacher's."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional.distillation import check_teacher_scores, distill_kl_div_loss, student_scores
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.pairwise import pairwise_dot_score

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["DistillKLDivLoss"]


class DistillKLDivLoss(Loss):
    r"""KL divergence between the teacher's and the student's softmax over each query's candidate documents.

    With student scores ``s_ij = similarity_fct(q_i, d_ij)`` and teacher scores ``t_ij`` (the labels) over the
    ``N >= 2`` candidate columns, ``T_s`` the student and ``T_t`` the teacher temperature::

        p_i  = softmax(t_i / T_t)         q_i = softmax(s_i / T_s)
        loss = T_s² · mean_i KL(p_i || q_i) = T_s² · mean_i Σ_j p_ij (log p_ij - log q_ij)

    ===============================================  ==========================================================
    Inputs                                           Labels
    ===============================================  ==========================================================
    (query, positive, negative)                      ``[Teacher(query, positive), Teacher(query, negative)]``
    (query, positive, negative_1, ..., negative_n)   ``[Teacher(query, positive), Teacher(query, negative_i)...]``
    ===============================================  ==========================================================

    On its first batch the loss checks the teacher scores once: NaN scores raise, and a warning names a teacher
    temperature so low that some teacher probabilities underflow to exactly zero (those candidates then carry no
    ranking information). Match ``teacher_temperature`` to the spread of your teacher's scores.

    When to use: distilling a (cross-encoder) teacher's ranking of several candidates per query; it preserves the
    whole ranking where ``MarginMSELoss`` only regresses margins. The ``T_s²`` factor keeps gradient sizes
    comparable for shared temperatures of 1 and above; below that the loss shrinks strongly.

    Related: ``MarginMSELoss``; :class:`MSELoss` for embedding distillation. The math lives in
    :func:`embedforge.losses.functional.distillation.distill_kl_div_loss`.

    References:
        Lin et al. 2020, "Distilling Dense Representations for Ranking using Tightly-Coupled Teachers",
        https://arxiv.org/abs/2010.11386; separate student and teacher temperatures as in DenseOn / LateOn,
        https://huggingface.co/papers/2607.27178.

    Args:
        model: The student model to train.
        similarity_fct: Pairwise similarity ``(n, dim), (n, dim) -> (n,)`` for the student's scores.
        temperature: Divides both score sets before the softmax; higher is softer.
        student_temperature: Overrides ``temperature`` for the student (also the loss's ``T_s²`` factor).
        teacher_temperature: Overrides ``temperature`` for the teacher.

    Raises:
        ValueError: If a temperature is not a positive finite number.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import DistillKLDivLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = DistillKLDivLoss(model, temperature=2.0)  # doctest: +SKIP
        >>> columns = [["He drove to work."], ["He took the car."], ["She walked."], ["It rains."]]
        >>> features = [model.tokenize(column) for column in columns]  # doctest: +SKIP
        >>> loss(features, torch.tensor([[8.2, 3.1, -1.0]])).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=3,
        max_texts=None,
        label=LabelKind.FLOAT_LIST,
        description="(query, positive, negative_1, ..., negative_n) with the teacher's score for each document",
    )
    config_keys = ("similarity_fct", "temperature", "student_temperature", "teacher_temperature")
    citation = """
@misc{lin2020distillingdenserepresentationsranking,
      title={Distilling Dense Representations for Ranking using Tightly-Coupled Teachers},
      author={Sheng-Chieh Lin and Jheng-Hong Yang and Jimmy Lin},
      year={2020},
      eprint={2010.11386},
      archivePrefix={arXiv},
      primaryClass={cs.IR},
      url={https://arxiv.org/abs/2010.11386},
}
"""

    def __init__(
        self,
        model: EmbeddingModel,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_dot_score,
        temperature: float = 1.0,
        student_temperature: float | None = None,
        teacher_temperature: float | None = None,
    ) -> None:
        super().__init__(model)
        self.similarity_fct = similarity_fct
        self.temperature = temperature
        self.student_temperature = temperature if student_temperature is None else student_temperature
        self.teacher_temperature = temperature if teacher_temperature is None else teacher_temperature
        for name in ("temperature", "student_temperature", "teacher_temperature"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive finite number, got {value}.")
        self._checked_teacher_scores = False

    def forward(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Embed every column and compute the loss.

        Args:
            sentence_features: Query, then candidate document columns, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch, num_candidates)`` teacher scores.

        Returns:
            Scalar loss.
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of already computed embeddings.

        Args:
            embeddings: ``(batch, dim)`` queries, then one tensor per candidate column (at least two).
            labels: ``(batch, num_candidates)`` teacher scores.

        Returns:
            Scalar loss.

        Raises:
            ValueError: Without labels, with fewer than 3 columns, with labels of another shape, or with NaN
                teacher scores.
        """
        name = type(self).__name__
        if labels is None:
            raise ValueError(f"{name} needs the teacher's score for each candidate as labels ('label' column).")
        if len(embeddings) < 3:
            raise ValueError(
                f"{name} needs at least 3 text columns (query, positive, negative_1, ...), got {len(embeddings)}: a "
                "softmax over one candidate is constant, so the loss would always be 0."
            )
        expected = (embeddings[0].size(0), len(embeddings) - 1)
        if tuple(labels.shape) != expected:
            raise ValueError(
                f"{name} expects teacher scores of shape (batch_size, num_candidates) = {expected}, but got "
                f"{tuple(labels.shape)}. Store one list with a score per candidate column in each row's label."
            )
        if not self._checked_teacher_scores:
            self._checked_teacher_scores = True
            check_teacher_scores(labels, self.teacher_temperature, name)
        scores = student_scores(embeddings, self.similarity_fct)
        return distill_kl_div_loss(scores, labels, self.student_temperature, self.teacher_temperature)

    def get_config_dict(self) -> dict[str, Any]:
        """Similarity function and temperature; the side temperatures only where they differ from it."""
        config: dict[str, Any] = {
            "similarity_fct": similarity_fct_name(self.similarity_fct),
            "temperature": self.temperature,
        }
        if self.student_temperature != self.temperature:
            config["student_temperature"] = self.student_temperature
        if self.teacher_temperature != self.temperature:
            config["teacher_temperature"] = self.teacher_temperature
        return config
