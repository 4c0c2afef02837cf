"""The :class:`SimilarityFunction` enum: names of the supported similarity functions and lookups by name.

Public import path: ``embedforge.SimilarityFunction`` or ``embedforge.similarity_functions.SimilarityFunction``.
It is defined here, beside the functions it names, so that ``embedforge.util`` can re-export it without an import
cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from torch import Tensor

from embedforge.util.dense_similarity import cos_sim, dot_score, euclidean_sim, manhattan_sim
from embedforge.util.pairwise import (
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
)
from embedforge.util.tensors import ArrayLike

__all__ = ["SimilarityFunction"]

SimilarityFn = Callable[[ArrayLike, ArrayLike], Tensor]
"""A similarity function: ``(n_a, dim)`` and ``(n_b, dim)`` embeddings to ``(n_a, n_b)`` (or ``(n,)`` pairwise)."""


class SimilarityFunction(str, Enum):
    """The supported similarity functions, by the names used in saved model configurations.

    - ``COSINE`` (``"cosine"``): cosine similarity, :func:`~embedforge.util.cos_sim`.
    - ``DOT_PRODUCT`` / ``DOT`` (``"dot"``): dot product, :func:`~embedforge.util.dot_score`.
    - ``EUCLIDEAN`` (``"euclidean"``): negative Euclidean distance, :func:`~embedforge.util.euclidean_sim`.
    - ``MANHATTAN`` (``"manhattan"``): negative Manhattan distance, :func:`~embedforge.util.manhattan_sim`.

    sentence-transformers 6.2 also lists ``MAXSIM``/``MEAN_MAXSIM`` for its multi-vector model family, which embedforge
    does not implement; the functions themselves are :func:`~embedforge.util.maxsim` and
    :func:`~embedforge.util.mean_maxsim`.

    Members are strings (``SimilarityFunction.COSINE == "cosine"``), and ``str()`` of a member is its value.
    Constructing one from an unknown name raises a ``ValueError`` that lists the known names.

    Example:
        >>> SimilarityFunction("dot") is SimilarityFunction.DOT_PRODUCT
        True
        >>> SimilarityFunction.to_similarity_fn("cosine")([[1.0, 0.0]], [[0.0, 2.0]])
        tensor([[0.]])
    """

    COSINE = "cosine"
    DOT_PRODUCT = "dot"
    DOT = "dot"  # alias of DOT_PRODUCT
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def _missing_(cls, value: object) -> SimilarityFunction:
        """Reject an unknown name with an error that lists the known ones.

        Args:
            value: The name that matched no member.

        Raises:
            ValueError: Always.
        """
        raise ValueError(
            f"Unknown similarity function {value!r}: expected one of {cls.possible_values()} or a "
            f"SimilarityFunction member. Pass one of those names, e.g. SimilarityFunction('cosine')."
        )

    @staticmethod
    def to_similarity_fn(similarity_function: str | SimilarityFunction) -> SimilarityFn:
        """The function computing the full similarity matrix for a name or member.

        Args:
            similarity_function: A member or its value, e.g. ``"cosine"``.

        Returns:
            A function mapping embeddings of shapes ``(n_a, dim)`` and ``(n_b, dim)`` to scores ``(n_a, n_b)``.

        Raises:
            ValueError: If ``similarity_function`` names no supported function.
        """
        return _SIMILARITY_FNS[SimilarityFunction(similarity_function)]

    @staticmethod
    def to_similarity_pairwise_fn(similarity_function: str | SimilarityFunction) -> SimilarityFn:
        """The function computing only the diagonal ``sim(a[i], b[i])`` for a name or member.

        Args:
            similarity_function: A member or its value, e.g. ``"cosine"``.

        Returns:
            A function mapping two embedding tensors of shape ``(n, dim)`` to scores of shape ``(n,)``.

        Raises:
            ValueError: If ``similarity_function`` names no supported function.
        """
        return _PAIRWISE_FNS[SimilarityFunction(similarity_function)]

    @staticmethod
    def possible_values() -> list[str]:
        """The accepted names, aliases listed once.

        Returns:
            ``["cosine", "dot", "euclidean", "manhattan"]``.
        """
        return [member.value for member in SimilarityFunction]


_SIMILARITY_FNS: dict[SimilarityFunction, SimilarityFn] = {
    SimilarityFunction.COSINE: cos_sim,
    SimilarityFunction.DOT_PRODUCT: dot_score,
    SimilarityFunction.EUCLIDEAN: euclidean_sim,
    SimilarityFunction.MANHATTAN: manhattan_sim,
}

_PAIRWISE_FNS: dict[SimilarityFunction, SimilarityFn] = {
    SimilarityFunction.COSINE: pairwise_cos_sim,
    SimilarityFunction.DOT_PRODUCT: pairwise_dot_score,
    SimilarityFunction.EUCLIDEAN: pairwise_euclidean_sim,
    SimilarityFunction.MANHATTAN: pairwise_manhattan_sim,
}
