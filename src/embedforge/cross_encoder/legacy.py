"""Argument names of older sentence-transformers CrossEncoder APIs, and how they map to today's (as data)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger("embedforge.cross_encoder.model")

F = TypeVar("F", bound=Callable[..., Any])

INIT_RENAMED: dict[str, str] = {
    "model_name": "model_name_or_path",
    "automodel_args": "model_kwargs",
    "tokenizer_args": "processor_kwargs",
    "tokenizer_kwargs": "processor_kwargs",
    "config_args": "config_kwargs",
    "cache_dir": "cache_folder",
    "default_activation_function": "activation_fn",
}
"""Old ``CrossEncoder(...)`` keyword → today's keyword (v2-v5 names)."""
INIT_POSITIONAL: tuple[str, ...] = ("num_labels", "max_length", "activation_fn", "device")
"""The order in which v5.3 and earlier took these arguments after the model name (now keyword-only)."""
PREDICT_RENAMED: dict[str, str] = {"sentences": "inputs", "activation_fct": "activation_fn"}
"""Old ``predict``/``rank`` keyword → today's keyword."""
PREDICT_DROPPED: tuple[str, ...] = ("num_workers",)
"""Old ``predict``/``rank`` keywords that have no effect any more."""
RANK_DROPPED: tuple[str, ...] = ("apply_softmax", "convert_to_numpy", "convert_to_tensor")
"""Old ``rank`` keywords that have no effect (``rank`` needs one label and returns Python floats)."""


def _rename(kwargs: dict[str, Any], renamed: dict[str, str], owner: str) -> dict[str, Any]:
    result = dict(kwargs)
    for old, new in renamed.items():
        if old in result:
            value = result.pop(old)
            logger.warning("The %s argument %r was renamed; use %r instead.", owner, old, new)
            result.setdefault(new, value)
    return result


def _drop(kwargs: dict[str, Any], dropped: tuple[str, ...], owner: str) -> dict[str, Any]:
    result = dict(kwargs)
    for name in dropped:
        if name in result:
            result.pop(name)
            logger.warning("The %s argument %r has no effect any more and is ignored.", owner, name)
    return result


def init_arguments(func: F) -> F:
    """Accept ``CrossEncoder(...)`` calls written for older sentence-transformers, with a warning each.

    The old positional order ``(model_name_or_path, num_labels, max_length, activation_fn, device)``, the renamed
    keywords of :data:`INIT_RENAMED`, and ``classifier_dropout`` (now ``config_kwargs["classifier_dropout"]``).
    """

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 1 + len(INIT_POSITIONAL):
            raise TypeError(
                f"CrossEncoder takes the model name and at most {len(INIT_POSITIONAL)} more positional arguments "
                f"{INIT_POSITIONAL} (the old order); got {len(args)}. Pass the others by keyword."
            )
        for name, value in zip(INIT_POSITIONAL, args[1:], strict=False):
            logger.warning("Passing %s positionally to CrossEncoder is deprecated; use %s=%r.", name, name, value)
            kwargs.setdefault(name, value)
        kwargs = _rename(kwargs, INIT_RENAMED, "CrossEncoder")
        if "classifier_dropout" in kwargs:
            dropout = kwargs.pop("classifier_dropout")
            logger.warning(
                "CrossEncoder(classifier_dropout=...) is deprecated; use config_kwargs={'classifier_dropout': %r}.",
                dropout,
            )
            kwargs["config_kwargs"] = {**(kwargs.get("config_kwargs") or {}), "classifier_dropout": dropout}
        return func(self, *args[:1], **kwargs)

    return wrapper  # type: ignore[return-value]


def predict_arguments(dropped: tuple[str, ...]) -> Callable[[F], F]:
    """Accept ``predict``/``rank`` calls with the keywords of older versions (renamed or without effect)."""

    def decorate(func: F) -> F:
        owner = f"CrossEncoder.{func.__name__}"

        @functools.wraps(func)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs = _drop(_rename(kwargs, PREDICT_RENAMED, owner), dropped, owner)
            return func(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
