"""GlobalOrthogonalRegularizationLoss: spread each column's embeddings out over the embedding space."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns
from embedforge.losses.functional.regularization import Aggregation, global_orthogonal_regularization
from embedforge.losses.naming import similarity_fct_name
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["GlobalOrthogonalRegularizationLoss"]


class GlobalOrthogonalRegularizationLoss(Loss):
    r"""Penalize unrelated inputs whose embeddings are similar on average or in their second moment (GOR).

    For each text column ``c`` with ``S = similarity_fct(E_c, E_c)`` over the ``n`` rows, ``dim`` the embedding
    size and the sums over the ``n (n - 1)`` off-diagonal pairs::

        M1_c = Σ_{i≠j} S_ij / (n (n - 1))          M2_c = Σ_{i≠j} S_ij² / (n (n - 1))
        gor_mean          = mean_weight          * agg_c M1_c²
        gor_second_moment = second_moment_weight * agg_c max(0, M2_c - 1 / dim)

    where ``agg`` is the mean (default) or the sum over columns. Embeddings spread uniformly over the sphere have
    ``M1 = 0`` and ``M2 = 1 / dim``, so both terms vanish; clustered embeddings are pushed apart. The loss returns
    the two terms as a dict; the trainer adds them up and logs each one.

    ========  ======
    Inputs    Labels
    ========  ======
    any       none
    ========  ======

    Rows of a column are treated as unrelated to each other, so any dataset works (singles, pairs, triplets); a
    label column, if present, is ignored.

    When to use: as a regularizer next to a main loss, e.g. ``MultipleNegativesRankingLoss``, either by adding the
    two inside a custom loss (:meth:`compute_loss_from_embeddings` takes embeddings already computed) or as a
    second task over the same data (``loss={"main": mnrl, "gor": gor}``). EmbeddingGemma uses
    ``mean_weight=0`` and ``aggregation="sum"``.

    The math lives in :func:`embedforge.losses.functional.regularization.global_orthogonal_regularization`.

    References:
        Zhang et al. 2017, "Learning Spread-out Local Feature Descriptors", https://arxiv.org/abs/1708.06320;
        EmbeddingGemma, https://arxiv.org/abs/2509.20354.

    Args:
        model: The model to train.
        similarity_fct: Similarity matrix function ``(n, dim), (m, dim) -> (n, m)``.
        mean_weight: Weight of the mean term; None or 0 leaves it out.
        second_moment_weight: Weight of the second-moment term; None or 0 leaves it out.
        aggregation: ``"mean"`` or ``"sum"`` of the per-column terms.

    Raises:
        ValueError: If both weights are None or 0, or ``aggregation`` is neither ``"mean"`` nor ``"sum"``.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import GlobalOrthogonalRegularizationLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = GlobalOrthogonalRegularizationLoss(model)  # doctest: +SKIP
        >>> terms = loss([model.tokenize(["It's sunny.", "He drove to work.", "A cat."])])  # doctest: +SKIP
        >>> sum(terms.values()).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=1,
        max_texts=None,
        label=LabelKind.OPTIONAL,
        description="any number of text columns (labels are ignored)",
    )
    config_keys = ("similarity_fct", "mean_weight", "second_moment_weight", "aggregation")
    citation = """
@misc{zhang2017learningspreadoutlocalfeature,
      title={Learning Spread-out Local Feature Descriptors},
      author={Xu Zhang and Felix X. Yu and Sanjiv Kumar and Shih-Fu Chang},
      year={2017},
      eprint={1708.06320},
      archivePrefix={arXiv},
      primaryClass={cs.CV},
      url={https://arxiv.org/abs/1708.06320},
}
"""

    def __init__(
        self,
        model: EmbeddingModel,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mean_weight: float | None = 1.0,
        second_moment_weight: float | None = 1.0,
        aggregation: Aggregation = "mean",
    ) -> None:
        super().__init__(model)
        if not mean_weight and not second_moment_weight:
            raise ValueError("At least one of mean_weight or second_moment_weight must be non-zero.")
        if aggregation not in ("mean", "sum"):
            raise ValueError(f"aggregation must be 'mean' or 'sum', got {aggregation!r}.")
        self.similarity_fct = similarity_fct
        self.mean_weight = mean_weight
        self.second_moment_weight = second_moment_weight
        self.aggregation: Aggregation = aggregation

    def forward(  # type: ignore[override]
        self, sentence_features: list[Features], labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Embed every column and compute the two regularization terms.

        Args:
            sentence_features: One tokenized batch per text column, ``input_ids`` ``(batch, seq)``….
            labels: Ignored.

        Returns:
            ``{"gor_mean": scalar, "gor_second_moment": scalar}`` (only the terms with a non-zero weight).
        """
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> dict[str, Tensor]:
        """The terms of already computed embeddings.

        Args:
            embeddings: One ``(batch, dim)`` tensor per text column.
            labels: Ignored.

        Returns:
            ``{"gor_mean": scalar, "gor_second_moment": scalar}`` (only the terms with a non-zero weight).
        """
        return global_orthogonal_regularization(
            embeddings,
            similarity_fct=self.similarity_fct,
            mean_weight=self.mean_weight,
            second_moment_weight=self.second_moment_weight,
            aggregation=self.aggregation,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments, the similarity function by its short name (e.g. ``"cos_sim"``)."""
        return {**super().get_config_dict(), "similarity_fct": similarity_fct_name(self.similarity_fct)}
