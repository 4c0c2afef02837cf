"""MSEEvaluator: how far a student's embeddings are from a teacher's (multilingual knowledge distillation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import check_same_length, check_texts, encode_unique

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["MSEEvaluator", "check_teacher", "scaled_mse"]


class MSEEvaluator(SentenceEvaluator):
    """Mean squared error (×100) between teacher embeddings of sources and model embeddings of their targets.

    The teacher embeds ``source_sentences``, the evaluated model embeds ``target_sentences``.

    For multilingual knowledge distillation (Reimers & Gurevych, 2020, https://arxiv.org/abs/2004.09813) the
    sources are English sentences, embedded once by the (monolingual) teacher when the evaluator is built, and the
    targets are their translations, embedded by the student at every call. The metric is
    ``mean((teacher(source) - student(target)) ** 2) * 100`` over all pairs and dimensions, returned negated so
    that higher is better. Metrics, for ``name="en-de"``: ``en-de_negative_mse`` (primary). Keys and values match
    sentence-transformers 6.2.

    Args:
        source_sentences: Sentences embedded by ``teacher_model`` (once, at construction).
        target_sentences: Sentences embedded by the evaluated model; ``target_sentences[i]`` pairs with
            ``source_sentences[i]``.
        teacher_model: Model that embeds ``source_sentences`` (its ``encode`` is called here). Required.
        show_progress_bar: Show a progress bar while encoding.
        batch_size: Sentences per forward pass.
        name: Dataset name, prefixed to the metric key; the CSV file is ``mse_evaluation_<name>_results.csv``
            (with two underscores when ``name`` is empty, as sentence-transformers names it).
        write_csv: Append the results (columns ``epoch, steps, MSE``) to that file in the call's ``output_path``.
        truncate_dim: Keep the first dimensions of the teacher's and the student's embeddings; default: each
            model's own ``truncate_dim``.

    Raises:
        ValueError: If the sentence lists are empty, hold non-strings or differ in length, or if
            ``teacher_model`` is missing.

    Example:
        >>> evaluator = MSEEvaluator(
        ...     ["A man plays guitar.", "It rains."],
        ...     ["Ein Mann spielt Gitarre.", "Es regnet."],
        ...     teacher_model=teacher,
        ...     name="en-de",
        ... )  # doctest: +SKIP
        >>> evaluator(student)  # doctest: +SKIP
        {'en-de_negative_mse': -0.1873}
    """

    config_keys: ClassVar[tuple[str, ...]] = ("truncate_dim",)
    csv_headers: ClassVar[list[str]] = ["epoch", "steps", "MSE"]

    def __init__(
        self,
        source_sentences: Sequence[str],
        target_sentences: Sequence[str],
        teacher_model: EmbeddingModel | None = None,
        show_progress_bar: bool = False,
        batch_size: int = 32,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.source_sentences = check_texts(owner, "source_sentences", source_sentences)
        self.target_sentences = check_texts(owner, "target_sentences", target_sentences)
        check_same_length(
            owner, ("source_sentences", self.source_sentences), ("target_sentences", self.target_sentences)
        )
        teacher = check_teacher(owner, teacher_model)
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"mse_evaluation_{name}_results.csv"
        self.primary_metric = reporting.prefixed(name, "negative_mse")
        (self.source_embeddings,) = encode_unique(teacher.encode, [self.source_sentences], **self._encode_options())

    @property
    def description(self) -> str:
        """``"Knowledge Distillation"``."""
        return "Knowledge Distillation"

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed the target sentences with ``model`` and compare them with the teacher's source embeddings.

        Args:
            model: The student model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            ``{"<name>_negative_mse": -MSE * 100}``.

        Raises:
            ValueError: If the model's embeddings do not have as many dimensions as the teacher's.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        (target_embeddings,) = encode_unique(model.encode, [self.target_sentences], **self._encode_options())
        mse = scaled_mse(type(self).__name__, self.source_embeddings, target_embeddings)
        reporting.log_metrics([f"MSE (*100):\t{mse:4f}"])
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, mse])
        return self.publish_metrics(model, {"negative_mse": -mse}, epoch, steps)

    def _encode_options(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "show_progress_bar": self.show_progress_bar,
            "convert_to_numpy": True,
            "truncate_dim": self.truncate_dim,
        }


def check_teacher(owner: str, teacher_model: EmbeddingModel | None) -> EmbeddingModel:
    """The teacher model, or a ``ValueError`` that says it is required.

    Args:
        owner: Evaluator class name, for the error message.
        teacher_model: The model given as ``teacher_model``.

    Returns:
        ``teacher_model``.

    Raises:
        ValueError: If ``teacher_model`` is None.
    """
    if teacher_model is None:
        raise ValueError(
            f"{owner}: `teacher_model` is required: it embeds the source sentences once, when the evaluator is "
            "built. Pass the teacher model (or the evaluated model itself to compare two of its inputs)."
        )
    return teacher_model


def scaled_mse(owner: str, source_embeddings: np.ndarray, target_embeddings: np.ndarray) -> float:
    """``mean((source - target) ** 2) * 100`` over all pairs and dimensions.

    Args:
        owner: Evaluator class name, for the error message.
        source_embeddings: Teacher embeddings ``(n, dim)``.
        target_embeddings: Student embeddings ``(n, dim)``.

    Returns:
        The mean squared error times 100.

    Raises:
        ValueError: If the embedding sizes differ.
    """
    teacher_dim, student_dim = source_embeddings.shape[-1], target_embeddings.shape[-1]
    if teacher_dim != student_dim:
        raise ValueError(
            f"{owner}: the evaluated model gives {student_dim}-dimensional embeddings but the teacher gave "
            f"{teacher_dim}-dimensional ones, so their squared error is undefined. Give the student a Dense layer "
            f"to {teacher_dim} dimensions, or pass truncate_dim={min(teacher_dim, student_dim)} to compare the "
            "first dimensions of both."
        )
    return float(np.mean((source_embeddings - target_embeddings) ** 2) * 100)
