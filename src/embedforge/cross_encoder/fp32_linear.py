"""Linear layers that compute in float32 even under autocast (``CrossEncoder(keep_in_fp32_modules=...)``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Float32Linear(nn.Linear):
    """An ``nn.Linear`` whose output is computed, and returned, in float32; its weights keep their dtype."""

    def forward(self, input: Tensor) -> Tensor:
        """``(..., in_features)`` → ``(..., out_features)`` in float32, autocast off."""
        with torch.autocast(device_type=input.device.type, enabled=False):
            bias = self.bias.float() if self.bias is not None else None
            return F.linear(input.float(), self.weight.float(), bias)


def select_float32_linears(model: nn.Module, selected: Sequence[str], previous: Sequence[str]) -> list[str]:
    """Make the linear layers at ``selected`` compute in float32 and return those at ``previous`` to normal.

    Args:
        model: The model whose submodules are named by the paths.
        selected: Paths (``named_modules`` names) of plain ``nn.Linear`` layers.
        previous: The paths selected before (restored unless selected again).

    Returns:
        The selected paths, without duplicates, in order.

    Raises:
        ValueError: If a path does not name a plain ``nn.Linear``.
    """
    if not isinstance(selected, (list, tuple)) or not all(isinstance(name, str) for name in selected):
        raise ValueError(f"keep_in_fp32_modules expects a list of module paths, got {selected!r}.")
    names = list(dict.fromkeys(selected))
    layers = {name: _linear(model, name) for name in names}
    for name in previous:
        if name not in layers:
            _linear(model, name).__class__ = nn.Linear
    for layer in layers.values():
        layer.__class__ = Float32Linear
    return names


def _linear(model: nn.Module, name: str) -> nn.Linear:
    try:
        layer = model.get_submodule(name)
    except AttributeError as error:
        raise ValueError(
            f"keep_in_fp32_modules names {name!r}, which is not a submodule of the model. Use a name "
            "from model.named_modules(), e.g. '0.auto_model.classifier'."
        ) from error
    if type(layer) not in (nn.Linear, Float32Linear):
        raise ValueError(
            f"keep_in_fp32_modules supports plain nn.Linear layers only; {name!r} is a {type(layer).__name__}."
        )
    return layer
