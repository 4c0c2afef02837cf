"""AdaptiveLayerLoss: train every hidden layer to give usable embeddings, so models can be cut short."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from embedforge.losses.functional.modifiers import (
    LAYER_WEIGHTINGS,
    LayerWeighting,
    layer_distillation_loss,
    layer_weight,
)
from embedforge.losses.modifier import LossModifier, replaced_forward, uses_gradient_cache

if TYPE_CHECKING:
    from embedforge.model.sentence_transformer import SentenceTransformer
    from embedforge.models.base import Features
    from embedforge.models.transformer import Transformer

__all__ = ["TWO_D_MATRYOSHKA_CITATION", "AdaptiveLayerLoss"]

TWO_D_MATRYOSHKA_CITATION = """
@misc{li20242d,
    title={2D Matryoshka Sentence Embeddings},
    author={Xianming Li and Zongxi Li and Jing Li and Haoran Xie and Qing Li},
    year={2024},
    eprint={2402.14776},
    archivePrefix={arXiv},
    primaryClass={cs.CL}
}
"""


class AdaptiveLayerLoss(LossModifier):
    r"""Apply a loss to the final layer and to (sampled) earlier layers, plus a KL term towards the final layer.

    The transformer runs once per batch with all hidden states kept; the rest of the model (pooling…) is then run
    on the hidden states of each selected prior layer ``l`` to get that layer's embeddings. With the wrapped loss
    ``L`` and ``S`` the ``n_layers_per_step`` sampled layers::

        loss = last_layer_weight * L(final)
             + Σ_{l in S} [ prior_layers_weight * w(l) / |S| * L(layer l)
                            + kl_div_weight * T * KL(softmax(final / T) || softmax(layer_l / T)) ]

    where ``w(l)`` is ``layer_weighting`` and ``T = kl_temperature`` (the KL term is skipped when ``T`` is 0; the
    final layer is its fixed target).

    ==========  ================================
    Inputs      Labels
    ==========  ================================
    any         whatever the wrapped loss takes
    ==========  ================================

    Requirements: the model's first module is a ``Transformer``; the wrapped loss must not cache gradients
    (``Cached*`` losses, ``MegaBatchMarginLoss`` with its mini-batched default), because those back-propagate
    after this loss has finished.

    When to use: to let users drop layers at inference (faster encoding) with little loss of quality.

    Related: ``Matryoshka2dLoss`` (layers and dimensions); ``MatryoshkaLoss``.

    References:
        Li et al. 2024, 2D Matryoshka Sentence Embeddings, https://arxiv.org/abs/2402.14776.

    Args:
        model: The model to train.
        loss: The loss applied at each layer, e.g. ``MultipleNegativesRankingLoss(model)``.
        n_layers_per_step: Prior layers sampled per step (Python's ``random``); -1 (or more than there are) uses
            all of them. The final layer is always used.
        last_layer_weight: Weight of the final layer's loss.
        prior_layers_weight: Weight of the (averaged) prior layers' losses.
        kl_div_weight: Weight of the KL terms.
        kl_temperature: Temperature of the KL terms; 0 disables them.
        layer_weighting: ``"uniform"``, ``"log"`` (``1 / (1 + ln(1 + l))``), ``"linear"`` (``1 / (1 + l)``), or a
            callable from layer index (0 = embedding layer output) to weight.

    Raises:
        ValueError: For an unknown ``layer_weighting``, a model not starting with a Transformer, or a
            gradient-caching wrapped loss.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import AdaptiveLayerLoss, MultipleNegativesRankingLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = AdaptiveLayerLoss(model, MultipleNegativesRankingLoss(model))  # doctest: +SKIP
    """

    config_keys = (
        "loss",
        "n_layers_per_step",
        "last_layer_weight",
        "prior_layers_weight",
        "kl_div_weight",
        "kl_temperature",
        "layer_weighting",
    )
    citation = TWO_D_MATRYOSHKA_CITATION

    def __init__(
        self,
        model: SentenceTransformer,
        loss: nn.Module,
        n_layers_per_step: int = 1,
        last_layer_weight: float = 1.0,
        prior_layers_weight: float = 1.0,
        kl_div_weight: float = 1.0,
        kl_temperature: float = 0.3,
        layer_weighting: LayerWeighting | Callable[[int], float] = "uniform",
    ) -> None:
        super().__init__(model, loss)
        if not callable(layer_weighting) and layer_weighting not in LAYER_WEIGHTINGS:
            raise ValueError(
                f'layer_weighting must be "uniform", "log", "linear", or a callable, but got {layer_weighting!r}.'
            )
        _check_transformer_first(self.base_model)
        if uses_gradient_cache(loss):
            raise ValueError(
                f"AdaptiveLayerLoss cannot wrap {type(loss).__name__}: it back-propagates from a hook after the "
                "loss is returned, when the layer outputs are no longer substituted, and it caches one batch of "
                "gradients while this loss runs once per layer. Wrap the non-cached loss (e.g. "
                "MultipleNegativesRankingLoss) instead."
            )
        self.n_layers_per_step = n_layers_per_step
        self.last_layer_weight = last_layer_weight
        self.prior_layers_weight = prior_layers_weight
        self.kl_div_weight = kl_div_weight
        self.kl_temperature = kl_temperature
        self.layer_weighting = layer_weighting

    def get_layer_weight(self, layer_idx: int) -> float:
        """Weight of prior layer ``layer_idx`` under ``layer_weighting``."""
        return layer_weight(layer_idx, self.layer_weighting)

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Final-layer loss plus the weighted losses and KL terms of the sampled prior layers.

        Args:
            sentence_features: The batch's columns, as the wrapped loss takes them.
            labels: The batch's labels, as the wrapped loss takes them.

        Returns:
            Scalar loss.
        """
        model = self.base_model
        transformer = model[0]
        with (
            replaced_forward(transformer, partial(_LayerCache, transformer)) as layers,
            replaced_forward(model, _EmbeddingRecorder) as seen,
        ):
            loss = self.loss(sentence_features, labels) * self.last_layer_weight
            final = seen.take() if self.kl_temperature > 0 else None
            indices = self._sampled_layers(layers.num_layers)
            for index in indices:
                layers.use_layer(index)
                layer_loss = self.loss(sentence_features, labels)
                loss = loss + layer_loss * self.get_layer_weight(index) / len(indices) * self.prior_layers_weight
                if final is not None:
                    distillation = layer_distillation_loss(seen.take(), final, self.kl_temperature)
                    loss = loss + distillation * self.kl_div_weight
        return loss

    def _sampled_layers(self, num_layers: int) -> Sequence[int]:
        """Prior layers (all hidden states but the last) used this step."""
        indices: Sequence[int] = range(num_layers - 1)
        if 0 < self.n_layers_per_step < num_layers - 1:
            indices = random.sample(indices, self.n_layers_per_step)
        return indices

    def get_config_dict(self) -> dict[str, Any]:
        """The options; the wrapped loss by class name and a callable weighting by its name."""
        weighting = self.layer_weighting
        name = weighting if isinstance(weighting, str) else getattr(weighting, "__name__", "custom")
        return {**super().get_config_dict(), "loss": type(self.loss).__name__, "layer_weighting": name}


class _LayerCache:
    """Stands in for the Transformer's forward while AdaptiveLayerLoss runs.

    First it runs the transformer with every hidden state kept; once a layer is chosen, it returns that layer's
    hidden states as ``token_embeddings`` without running the transformer again.
    """

    def __init__(self, transformer: Transformer, forward: Callable[..., Features]) -> None:
        self.transformer = transformer
        self.forward = forward
        self.layer: int | None = None
        self.num_layers = 0

    def use_layer(self, layer: int) -> None:
        """Hand out the hidden states of ``layer`` from now on."""
        self.layer = layer

    def __call__(self, features: Features, **kwargs: Any) -> Features:
        if self.layer is None:
            return self._run_keeping_layers(features, **kwargs)
        if "all_layer_embeddings" not in features:
            raise RuntimeError(
                "AdaptiveLayerLoss: the wrapped loss passed the model features it had not embedded before, so no "
                "hidden states are cached for them. The wrapped loss must embed the same feature dicts each call."
            )
        return {**features, "token_embeddings": features["all_layer_embeddings"][self.layer]}

    def _run_keeping_layers(self, features: Features, **kwargs: Any) -> Features:
        config = self.transformer.auto_model.config
        original = config.output_hidden_states
        config.output_hidden_states = True
        try:
            output = self.forward(features, **kwargs)
        finally:
            config.output_hidden_states = original
        self.num_layers = len(output["all_layer_embeddings"])
        return output


class _EmbeddingRecorder:
    """Stands in for the model's forward and records every ``sentence_embedding`` it returns."""

    def __init__(self, forward: Callable[..., Features]) -> None:
        self.forward = forward
        self.embeddings: list[Tensor] = []

    def __call__(self, features: Features, **kwargs: Any) -> Features:
        output = self.forward(features, **kwargs)
        self.embeddings.append(output["sentence_embedding"])
        return output

    def take(self) -> Tensor:
        """The recorded embeddings, concatenated ``(n, dim)``, and forget them."""
        embeddings, self.embeddings = torch.cat(self.embeddings, dim=0), []
        return embeddings


def _check_transformer_first(model: nn.Module) -> None:
    from embedforge.models.transformer import Transformer

    first = model[0] if isinstance(model, nn.Sequential) and len(model) else None
    if not isinstance(first, Transformer):
        raise ValueError(
            "AdaptiveLayerLoss needs a model whose first module is a Transformer (it reads the transformer's "
            f"hidden states), found {type(first).__name__}."
        )
