"""Optimizer parameter groups over the losses (so loss-owned weights, e.g. SoftmaxLoss's classifier, train)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from torch import nn


def parameter_groups(
    named_parameters: Iterable[tuple[str, nn.Parameter]],
    decay_names: set[str],
    weight_decay: float,
    learning_rate_mapping: dict[str, float],
) -> list[dict]:
    """Split trainable parameters into weight-decay / no-decay groups, plus one group per learning-rate pattern.

    A parameter matched by a ``learning_rate_mapping`` regex (first match wins) goes to that pattern's groups with
    its learning rate. Shared parameters (the model inside several losses) appear once.

    Raises:
        ValueError: If a pattern matches no parameter.
    """
    seen: set[int] = set()
    groups: dict[tuple[str | None, bool], list[nn.Parameter]] = {}
    matched = dict.fromkeys(learning_rate_mapping, False)
    for name, parameter in named_parameters:
        if not parameter.requires_grad or id(parameter) in seen:
            continue
        seen.add(id(parameter))
        pattern = next((p for p in learning_rate_mapping if re.search(p, name)), None)
        if pattern is not None:
            matched[pattern] = True
        groups.setdefault((pattern, name in decay_names), []).append(parameter)
    unmatched = [pattern for pattern, hit in matched.items() if not hit]
    if unmatched:
        raise ValueError(
            f"learning_rate_mapping patterns {unmatched} match no trainable parameter name. Check the regexes "
            "against [name for name, _ in model.named_parameters()]."
        )
    result = []
    for (pattern, decay), parameters in groups.items():
        group: dict = {"params": parameters, "weight_decay": weight_decay if decay else 0.0}
        if pattern is not None:
            group["lr"] = learning_rate_mapping[pattern]
        result.append(group)
    return result
