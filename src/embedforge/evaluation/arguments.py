"""Argument checks the evaluators share: positive integers, lists of cut-offs, score functions."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import Tensor

ScoreFunction = Callable[[Tensor, Tensor], Tensor]


def positive_int(owner: str, argument: str, value: Any) -> int:
    """``value`` if it is a positive integer, else a ``ValueError`` naming ``owner`` and ``argument``.

    Args:
        owner: Evaluator class name, for the message.
        argument: Argument name (``"batch_size"``, ``"at_k"``...).
        value: The value to check.

    Returns:
        The value as an int.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: `{argument}` must be a positive integer, found {value!r}. Pass e.g. {argument}=10.")
    return int(value)


def k_list(owner: str, argument: str, values: Sequence[int]) -> list[int]:
    """The cut-offs as a list, checked to be a non-empty sequence of positive integers."""
    if isinstance(values, int) and not isinstance(values, bool):
        raise ValueError(
            f"{owner}: `{argument}` must be a list of cut-offs, got the number {values}. "
            f"Wrap it in a list: {argument}=[{values}]."
        )
    ks = list(values)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(
            f"{owner}: `{argument}` must be a non-empty list of positive integers, got {values!r}. "
            f"Pass e.g. {argument}=[1, 5, 10]."
        )
    return ks


def check_score_functions(
    owner: str, score_functions: Mapping[str, ScoreFunction] | None
) -> dict[str, ScoreFunction] | None:
    """The score functions as a dict, checked to map names to callables (None stays None: the model's own)."""
    if score_functions is None:
        return None
    if not isinstance(score_functions, Mapping) or not score_functions:
        raise ValueError(
            f"{owner}: `score_functions` must be a non-empty dict from name to function, got "
            f"{score_functions!r}. Pass e.g. {{'cosine': cos_sim}}, or None for the model's similarity."
        )
    bad = [name for name, function in score_functions.items() if not isinstance(name, str) or not callable(function)]
    if bad:
        raise ValueError(
            f"{owner}: `score_functions` must map names (str) to functions (Tensor, Tensor) -> Tensor; "
            f"the entries {bad} do not. Fix or remove them."
        )
    return dict(score_functions)
