"""The math of the loss modifiers: Matryoshka truncation, AdaptiveLayer's layer weights and self-distillation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch.nn.functional as F
from torch import Tensor

__all__ = ["LAYER_WEIGHTINGS", "LayerWeighting", "layer_distillation_loss", "layer_weight", "shrink"]

LayerWeighting = Literal["uniform", "log", "linear"]
LAYER_WEIGHTINGS: tuple[LayerWeighting, ...] = ("uniform", "log", "linear")


def shrink(embeddings: Tensor, dim: int) -> Tensor:
    """The first ``dim`` dimensions of ``(..., full_dim)`` embeddings, L2-normalized: ``(..., dim)``.

    Raises:
        ValueError: If ``dim`` exceeds the embedding size.

    Example:
        >>> import torch
        >>> shrink(torch.tensor([[3.0, 4.0, 12.0]]), 2)
        tensor([[0.6000, 0.8000]])
    """
    if dim > embeddings.shape[-1]:
        raise ValueError(
            f"Dimension {dim} in matryoshka_dims cannot be greater than the model's embedding dimension: "
            f"{embeddings.shape[-1]}."
        )
    return F.normalize(embeddings[..., :dim], p=2, dim=-1)


def layer_weight(layer_index: int, weighting: LayerWeighting | Callable[[int], float] = "uniform") -> float:
    """Weight of the loss at hidden layer ``layer_index`` (0 is the embedding layer's output).

    ``"uniform"``: 1 (2DMSE, Starbucks); ``"log"``: ``1 / (1 + ln(1 + i))`` (ESE); ``"linear"``: ``1 / (1 + i)``;
    a callable maps the index to the weight.

    Example:
        >>> layer_weight(1, "linear")
        0.5
    """
    if callable(weighting):
        return weighting(layer_index)
    if weighting == "log":
        return 1.0 / (1.0 + math.log(1 + layer_index))
    if weighting == "linear":
        return 1.0 / (1 + layer_index)
    return 1.0


def layer_distillation_loss(layer_embeddings: Tensor, final_embeddings: Tensor, temperature: float) -> Tensor:
    """KL divergence pulling a prior layer's embeddings towards the final layer's (a fixed target).

    ``KL(softmax(final / T) || softmax(layer / T))`` over the embedding dimensions, averaged over the rows
    ("batchmean") and multiplied by ``T``; the final layer receives no gradient.

    Args:
        layer_embeddings: ``(n, dim)`` sentence embeddings computed from a prior layer.
        final_embeddings: ``(n, dim)`` sentence embeddings of the final layer.
        temperature: ``T`` > 0.

    Returns:
        Scalar.
    """
    target = F.softmax(final_embeddings.detach() / temperature, dim=-1)
    divergence = F.kl_div(F.log_softmax(layer_embeddings / temperature, dim=-1), target, reduction="batchmean")
    return divergence * temperature
