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
from embedforge.losses.modifier import LossModifier, innermost_cached_loss, replaced_forward, uses_gradient_cache

if TYPE_CHECKING:
    from embedforge.losses.cached import CalculateLoss, EmbedFn, MiniBatches
    from embedforge.model.protocols import EmbeddingModel
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

    Requirements: the model's first module is a ``Transformer``.

    With a gradient-caching loss (``Cached*`` losses, ``MegaBatchMarginLoss`` with its mini-batched default, also
    inside ``MatryoshkaLoss`` as in ``Matryoshka2dLoss``), the layers are sampled first; each mini-batch is then
    embedded once at the final and the sampled layers together (both GradCache passes), and the loss calculation
    and KL terms run per layer on the cached embeddings: value and gradients equal the plain loss's, with the
    cached loss's memory bound (sentence-transformers refuses this combination). With ``n_layers_per_step`` or
    ``n_dims_per_step`` sampling, the random draws happen in another order than in the plain path.

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
        ValueError: For an unknown ``layer_weighting`` or a model not starting with a Transformer.

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
        model: EmbeddingModel,
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
        if uses_gradient_cache(self.loss):
            return self._forward_cached(sentence_features, labels)
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

    def _forward_cached(self, sentence_features: list[Features], labels: Tensor | None) -> Tensor:
        """The same loss through the wrapped loss's gradient cache: all used layers embedded per mini-batch."""
        cached = innermost_cached_loss(self.loss)
        transformer = self.base_model[0]
        indices = self._sampled_layers(transformer.auto_model.config.num_hidden_layers + 1)
        layers = [None, *indices]  # None: the final layer
        with (
            cached.wrapped_embedding(partial(_stacked_layers, transformer, layers)),
            cached.wrapped_calculation(partial(self._per_layer, indices)),
        ):
            return self.loss(sentence_features, labels)

    def _per_layer(self, indices: Sequence[int], calculate: CalculateLoss) -> CalculateLoss:
        """Split the stacked embeddings per layer; weighted loss per layer plus the KL terms."""

        def per_layer(
            reps: MiniBatches,
            labels: Tensor | None,
            *,
            extras: list[list[Any]] | None = None,
            with_backward: bool = False,
        ) -> Tensor:
            dim = reps[0][0].size(1) // (len(indices) + 1)
            parts = [
                [[rep[:, k * dim : (k + 1) * dim] for rep in column] for column in reps]
                for k in range(len(indices) + 1)
            ]
            total = self.last_layer_weight * _weighted_part(
                calculate, parts[0], labels, extras, with_backward, self.last_layer_weight
            )
            final = torch.cat([rep for column in parts[0] for rep in column]) if self.kl_temperature > 0 else None
            for index, part in zip(indices, parts[1:], strict=True):
                weight = self.get_layer_weight(index) / len(indices) * self.prior_layers_weight
                total = total + weight * _weighted_part(calculate, part, labels, extras, with_backward, weight)
                if final is not None:
                    layer = torch.cat([rep for column in part for rep in column])
                    distillation = layer_distillation_loss(layer, final, self.kl_temperature) * self.kl_div_weight
                    if with_backward:
                        distillation.backward()
                        distillation = distillation.detach()
                    total = total + distillation
            return total

        return per_layer

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


def _weighted_part(
    calculate: CalculateLoss,
    part: MiniBatches,
    labels: Tensor | None,
    extras: list[list[Any]] | None,
    with_backward: bool,
    weight: float,
) -> Tensor:
    """``calculate`` on one layer's slices; with ``with_backward``, ``weight`` times its gradient reaches them."""
    if not with_backward:
        return calculate(part, labels, extras=extras)
    leaves = [[rep.detach().requires_grad_() for rep in column] for column in part]
    value = calculate(leaves, labels, extras=extras, with_backward=True)
    for rep_column, leaf_column in zip(part, leaves, strict=True):
        for rep, leaf in zip(rep_column, leaf_column, strict=True):
            if leaf.grad is not None:
                rep.backward(weight * leaf.grad)
    return value


def _stacked_layers(transformer: Transformer, layers: Sequence[int | None], embed: EmbedFn) -> EmbedFn:
    """An embedding function returning the embeddings of ``layers`` side by side, ``(batch, len(layers) * dim)``.

    The transformer runs once with its hidden states kept; the modules after it then run on each layer's hidden
    states (``None`` is the final layer, as the model computes it).
    """

    def stacked(features: Features) -> Tensor:
        with replaced_forward(transformer, partial(_LayerCache, transformer)) as cache:
            outputs = []
            for layer in layers:
                if layer is not None:
                    cache.use_layer(layer)
                outputs.append(embed(features))
        return torch.cat(outputs, dim=1)

    return stacked


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
