"""MatryoshkaLoss: train embeddings whose leading dimensions are good embeddings on their own."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from embedforge.losses.cached import CalculateLoss, MiniBatches
from embedforge.losses.functional.modifiers import shrink
from embedforge.losses.modifier import LossModifier, innermost_cached_loss, replaced_forward, uses_gradient_cache

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["MatryoshkaLoss"]

logger = logging.getLogger(__name__)


class MatryoshkaLoss(LossModifier):
    r"""Apply a loss at several embedding sizes: the full embedding and its first ``d`` dimensions for each ``d``.

    For the wrapped loss ``L`` and dimensions ``d_1 > d_2 > …`` with weights ``w_k``::

        loss = Σ_k w_k * L( normalize(e[:, :d_k]) for every column embedding e )

    Embeddings are truncated to their first ``d_k`` dimensions and L2-normalized (also at the full size). The
    model runs once per batch: its outputs are cached and truncated for each size. Labels that are per-column
    embeddings (shape ``(batch, dim)`` or ``(batch, n, dim)``, e.g. for MSELoss distillation) are truncated too.

    With a gradient-caching loss (``CachedMultipleNegativesRankingLoss``, ``CachedGISTEmbedLoss``…) the
    truncation is applied to the cached mini-batch embeddings inside the loss calculation, so memory stays that of
    one mini-batch; a guide model's embeddings are not truncated.

    ==========  ================================
    Inputs      Labels
    ==========  ================================
    any         whatever the wrapped loss takes
    ==========  ================================

    When to use: to let users truncate embeddings (``truncate_dim``) for cheaper storage and search with little
    loss of quality. Always include the model's full dimension.

    Related: ``Matryoshka2dLoss`` (also over layers); ``AdaptiveLayerLoss``.

    References:
        Kusupati et al. 2022, Matryoshka Representation Learning, https://arxiv.org/abs/2205.13147.

    Args:
        model: The model to train.
        loss: The loss to apply at every size, e.g. ``MultipleNegativesRankingLoss(model)``.
        matryoshka_dims: Embedding sizes, e.g. ``[768, 512, 256, 128, 64]`` (any order; sorted descending).
        matryoshka_weights: One weight per size (default 1 each), in the order of ``matryoshka_dims``.
        n_dims_per_step: If positive and fewer than the number of sizes, use that many sizes drawn at random
            (Python's ``random``) per step; -1 uses all.

    Raises:
        ValueError: For no sizes, a size <= 0 or above the model's dimension, or weights of another length.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import MatryoshkaLoss, MultipleNegativesRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> base_loss = MultipleNegativesRankingLoss(model)  # doctest: +SKIP
        >>> loss = MatryoshkaLoss(model, base_loss, [768, 512, 256, 128, 64])  # doctest: +SKIP
    """

    config_keys = ("loss", "matryoshka_dims", "matryoshka_weights", "n_dims_per_step")
    citation = """
@misc{kusupati2024matryoshka,
    title={Matryoshka Representation Learning},
    author={Aditya Kusupati and Gantavya Bhatt and Aniket Rege and Matthew Wallingford and Aditya Sinha and Vivek Ramanujan and William Howard-Snyder and Kaifeng Chen and Sham Kakade and Prateek Jain and Ali Farhadi},
    year={2024},
    eprint={2205.13147},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""  # noqa: E501

    def __init__(
        self,
        model: EmbeddingModel,
        loss: nn.Module,
        matryoshka_dims: Sequence[int],
        matryoshka_weights: Sequence[float] | Sequence[int] | None = None,
        n_dims_per_step: int = -1,
    ) -> None:
        super().__init__(model, loss)
        weights = _check_dims(model, matryoshka_dims, matryoshka_weights)
        ordered = sorted(zip(matryoshka_dims, weights, strict=True), key=lambda pair: pair[0], reverse=True)
        self.matryoshka_dims: tuple[int, ...] = tuple(dim for dim, _ in ordered)
        self.matryoshka_weights: tuple[float, ...] = tuple(weight for _, weight in ordered)
        self.n_dims_per_step = n_dims_per_step

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """The weighted sum of the wrapped loss over the (sampled) embedding sizes.

        Args:
            sentence_features: The batch's columns, as the wrapped loss takes them.
            labels: The batch's labels, as the wrapped loss takes them.

        Returns:
            Scalar loss.
        """
        if uses_gradient_cache(self.loss):
            return self._forward_cached(sentence_features, labels)
        with replaced_forward(self.base_model, _TruncatingForward) as forward:
            total: Any = 0.0
            for dim, weight in self._sampled(sort=True):
                forward.use_dim(dim)
                total = total + weight * self.loss(sentence_features, self._truncated_labels(labels, dim))
        return total

    def _forward_cached(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """Run a gradient-caching loss whose loss calculation is repeated over the truncated cached embeddings."""
        cached = innermost_cached_loss(self.loss)
        with cached.wrapped_calculation(self._per_dimension):
            return self.loss(sentence_features, labels)

    def _per_dimension(self, calculate: CalculateLoss) -> CalculateLoss:
        """Wrap a cached loss calculation so that it runs once per (sampled) size on truncated embeddings."""

        def per_dimension(
            reps: MiniBatches,
            labels: Tensor | None,
            *,
            extras: list[list[Any]] | None = None,
            with_backward: bool = False,
        ) -> Tensor:
            total: Any = 0.0
            for dim, weight in self._sampled(sort=False):
                truncated = [[shrink(rep, dim) for rep in column] for column in reps]
                if not with_backward:
                    total = total + weight * calculate(truncated, labels, extras=extras)
                    continue
                # Leaves cut the graph: the calculation back-propagates to them (in chunks), then each truncation
                # is back-propagated once into the cached embeddings, scaled by the size's weight.
                leaves = [[rep.detach().requires_grad_() for rep in column] for column in truncated]
                total = total + weight * calculate(leaves, labels, extras=extras, with_backward=True)
                for truncated_column, leaf_column in zip(truncated, leaves, strict=True):
                    for rep, leaf in zip(truncated_column, leaf_column, strict=True):
                        if leaf.grad is not None:
                            rep.backward(weight * leaf.grad)
            return total

        return per_dimension

    def _sampled(self, sort: bool) -> list[tuple[int, float]]:
        """The ``(dim, weight)`` pairs used this step (a random subset with ``n_dims_per_step``)."""
        indices: Sequence[int] = range(len(self.matryoshka_dims))
        if 0 < self.n_dims_per_step < len(indices):
            indices = random.sample(indices, self.n_dims_per_step)
            if sort:
                indices = sorted(indices)
        return [(self.matryoshka_dims[index], self.matryoshka_weights[index]) for index in indices]

    def _truncated_labels(self, labels: Tensor | None, dim: int) -> Tensor | None:
        """Labels that are embeddings ``(batch, [n,] model_dim)`` cut to ``dim``; other labels unchanged."""
        model_dim = self.base_model.get_sentence_embedding_dimension()
        if isinstance(labels, Tensor) and labels.ndim in (2, 3) and labels.size(-1) == model_dim:
            return labels[..., :dim]
        return labels

    def get_config_dict(self) -> dict[str, Any]:
        """The wrapped loss's class name, the sorted sizes and weights, and ``n_dims_per_step``."""
        return {**super().get_config_dict(), "loss": type(self.loss).__name__}


class _TruncatingForward:
    """Stands in for the model's forward while MatryoshkaLoss runs.

    For the first size every model call runs the model; for the other sizes the same outputs are handed out again
    (matched by call order). Every ``sentence_embedding`` is truncated and normalized to the current size.
    """

    def __init__(self, forward: Callable[..., Features]) -> None:
        self.forward = forward
        self.outputs: list[Features] = []
        self.dim: int | None = None
        self.filling = True
        self.calls = 0

    def use_dim(self, dim: int) -> None:
        """Truncate to ``dim`` from now on; after the first size, outputs are replayed instead of recomputed."""
        if self.dim is not None:
            self.filling = False
        self.dim, self.calls = dim, 0

    def __call__(self, features: Features, **kwargs: Any) -> Features:
        if self.filling:
            output = self.forward(features, **kwargs)
            self.outputs.append(output)
        elif self.calls >= len(self.outputs):
            raise RuntimeError(
                "MatryoshkaLoss: the wrapped loss called the model more often for a smaller dimension than for the "
                "first one, so there is no cached output to reuse. The wrapped loss must embed the same inputs in "
                "the same order each time it is called."
            )
        output = self.outputs[self.calls]
        self.calls += 1
        # Sizes come largest first, so shrinking the previous size's embedding equals shrinking the full one (and
        # is what sentence-transformers computes, float for float).
        output["sentence_embedding"] = shrink(output["sentence_embedding"], self.dim)
        return output


def _check_dims(
    model: nn.Module, dims: Sequence[int], weights: Sequence[float] | Sequence[int] | None
) -> Sequence[float] | Sequence[int]:
    """Validate sizes and weights (as sentence-transformers does) and return the weights (default all 1)."""
    if not dims:
        raise ValueError("MatryoshkaLoss needs at least one dimension in matryoshka_dims, e.g. [768, 256, 64].")
    if any(dim <= 0 for dim in dims):
        raise ValueError(f"All dimensions in matryoshka_dims must be > 0, got {list(dims)}.")
    if weights is None:
        weights = [1] * len(dims)
    elif len(weights) != len(dims):
        raise ValueError(
            f"matryoshka_weights must be the same length as matryoshka_dims, got {len(weights)} weights for "
            f"{len(dims)} dimensions."
        )
    model_dim = model.get_sentence_embedding_dimension()
    if model_dim is not None:
        if any(dim > model_dim for dim in dims):
            raise ValueError(
                f"Dimensions in matryoshka_dims cannot exceed the model's embedding dimension {model_dim}, got "
                f"{list(dims)}."
            )
        if model_dim not in dims:
            logger.warning(
                "The model's embedding dimension %d is not in matryoshka_dims %s, so the full embedding is not "
                "trained; include %d unless you always truncate.",
                model_dim,
                list(dims),
                model_dim,
            )
    return weights
