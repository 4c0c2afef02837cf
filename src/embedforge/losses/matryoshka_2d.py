"""Matryoshka2dLoss: AdaptiveLayerLoss over MatryoshkaLoss (fewer layers and fewer dimensions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from torch import nn

from embedforge.losses.adaptive_layer import TWO_D_MATRYOSHKA_CITATION, AdaptiveLayerLoss
from embedforge.losses.functional.modifiers import LayerWeighting
from embedforge.losses.matryoshka import MatryoshkaLoss

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["Matryoshka2dLoss"]


class Matryoshka2dLoss(AdaptiveLayerLoss):
    r"""2D Matryoshka: a loss at several embedding sizes *and* at several layers.

    Exactly ``AdaptiveLayerLoss(model, MatryoshkaLoss(model, loss, matryoshka_dims, matryoshka_weights,
    n_dims_per_step), n_layers_per_step, last_layer_weight, prior_layers_weight, kl_div_weight, kl_temperature,
    layer_weighting)``: at the final layer and at ``n_layers_per_step`` sampled prior layers, the wrapped loss is
    applied at ``n_dims_per_step`` sampled sizes of the truncated, normalized embeddings (see both classes for the
    formulas), plus the KL terms of AdaptiveLayerLoss.

    ==========  ================================
    Inputs      Labels
    ==========  ================================
    any         whatever the wrapped loss takes
    ==========  ================================

    Requirements: a model starting with a Transformer; a wrapped loss that does not cache gradients.

    When to use: to let users pick both a smaller embedding size and fewer layers at inference.

    Related: ``MatryoshkaLoss``, ``AdaptiveLayerLoss``.

    References:
        Li et al. 2024, 2D Matryoshka Sentence Embeddings, https://arxiv.org/abs/2402.14776.

    Args:
        model: The model to train.
        loss: The loss to apply, e.g. ``MultipleNegativesRankingLoss(model)``.
        matryoshka_dims: Embedding sizes, e.g. ``[768, 512, 256, 128, 64]``.
        matryoshka_weights: One weight per size (default 1 each).
        n_layers_per_step: Prior layers sampled per step; -1 for all.
        n_dims_per_step: Sizes sampled per step; -1 for all.
        last_layer_weight: Weight of the final layer's loss.
        prior_layers_weight: Weight of the prior layers' losses.
        kl_div_weight: Weight of the KL terms.
        kl_temperature: Temperature of the KL terms; 0 disables them.
        layer_weighting: ``"uniform"``, ``"log"``, ``"linear"`` or a callable (see AdaptiveLayerLoss).

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import Matryoshka2dLoss, MultipleNegativesRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> base_loss = MultipleNegativesRankingLoss(model)  # doctest: +SKIP
        >>> loss = Matryoshka2dLoss(model, base_loss, [768, 512, 256, 128, 64])  # doctest: +SKIP
    """

    config_keys = (
        *AdaptiveLayerLoss.config_keys,
        "matryoshka_dims",
        "matryoshka_weights",
        "n_dims_per_step",
    )
    citation = TWO_D_MATRYOSHKA_CITATION

    def __init__(
        self,
        model: EmbeddingModel,
        loss: nn.Module,
        matryoshka_dims: Sequence[int],
        matryoshka_weights: Sequence[float] | Sequence[int] | None = None,
        n_layers_per_step: int = 1,
        n_dims_per_step: int = 1,
        last_layer_weight: float = 1.0,
        prior_layers_weight: float = 1.0,
        kl_div_weight: float = 1.0,
        kl_temperature: float = 0.3,
        layer_weighting: LayerWeighting | Callable[[int], float] = "uniform",
    ) -> None:
        matryoshka = MatryoshkaLoss(
            model, loss, matryoshka_dims, matryoshka_weights=matryoshka_weights, n_dims_per_step=n_dims_per_step
        )
        super().__init__(
            model,
            matryoshka,
            n_layers_per_step=n_layers_per_step,
            last_layer_weight=last_layer_weight,
            prior_layers_weight=prior_layers_weight,
            kl_div_weight=kl_div_weight,
            kl_temperature=kl_temperature,
            layer_weighting=layer_weighting,
        )

    @property
    def matryoshka_dims(self) -> tuple[int, ...]:
        """The embedding sizes, largest first."""
        return self.loss.matryoshka_dims

    @property
    def matryoshka_weights(self) -> tuple[float, ...]:
        """The weight of each size, in the order of ``matryoshka_dims``."""
        return self.loss.matryoshka_weights

    @property
    def n_dims_per_step(self) -> int:
        """Sizes sampled per step."""
        return self.loss.n_dims_per_step

    def get_config_dict(self) -> dict[str, Any]:
        """AdaptiveLayerLoss's options and MatryoshkaLoss's (``loss`` names the innermost wrapped loss)."""
        return {**super().get_config_dict(), **self.loss.get_config_dict()}
