"""Decorators that keep deprecated argument names and positions working, with a warning.

At the path sentence-transformers names ``util.decorators``. Each rename warns once per message and never
overrides a value given under the new name.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from embedforge.cross_encoder.legacy import INIT_POSITIONAL, INIT_RENAMED
from embedforge.util.logging import warn_once

__all__ = [
    "cross_encoder_init_args_decorator",
    "cross_encoder_predict_rank_args_decorator",
    "deprecated_kwargs",
    "save_to_hub_args_decorator",
    "transformer_kwargs_decorator",
]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_TRANSFORMER_RENAMES = {
    "model_args": "model_kwargs",
    "tokenizer_args": "processor_kwargs",
    "config_args": "config_kwargs",
}
# The CrossEncoder's older keyword names and its once-positional arguments: one table, in cross_encoder.legacy (data
# only; importing it loads no model code).
_CROSS_ENCODER_RENAMES = INIT_RENAMED
_CROSS_ENCODER_OLD_POSITIONALS = INIT_POSITIONAL


def _rename(kwargs: dict[str, Any], renames: dict[str, str], message: str) -> None:
    """Move each deprecated keyword in ``kwargs`` to its new name, in place, warning once per name.

    Args:
        kwargs: The call's keyword arguments.
        renames: Old name to new name.
        message: Warning template with ``{old}`` and ``{new}`` fields.
    """
    for old_name, new_name in renames.items():
        if old_name not in kwargs:
            continue
        value = kwargs.pop(old_name)
        warn_once(logger, message.format(old=old_name, new=new_name))
        kwargs.setdefault(new_name, value)


def deprecated_kwargs(**renames: str) -> Callable[[F], F]:
    """Make a function accept deprecated keyword names, mapping each to its new name with a one-time warning.

    When both names are given, the new one wins and the old one is dropped.

    Args:
        **renames: ``old_name="new_name"`` pairs.

    Returns:
        The decorator.

    Example:
        >>> @deprecated_kwargs(sentence_embedding_dimension="embedding_dimension")
        ... def build(embedding_dimension: int) -> int:
        ...     return embedding_dimension
        >>> build(sentence_embedding_dimension=8)
        8
    """

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _rename(
                kwargs, renames, "The `{old}` argument was renamed and is now deprecated. Please use `{new}` instead."
            )
            return func(*args, **kwargs)

        return cast("F", wrapper)

    return decorator


def transformer_kwargs_decorator(func: F) -> F:
    """Accept the deprecated arguments of ``Transformer.__init__``.

    ``model_args`` → ``model_kwargs``, ``tokenizer_args`` → ``processor_kwargs``, ``config_args`` →
    ``config_kwargs``; a non-None ``cache_dir`` is set as the default ``cache_dir`` of all three dicts.

    Args:
        func: ``Transformer.__init__`` or a function with those keyword arguments.

    Returns:
        The wrapped function.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _rename(
            kwargs,
            _TRANSFORMER_RENAMES,
            "The Transformer `{old}` argument was renamed and is now deprecated, please use `{new}` instead.",
        )
        cache_dir = kwargs.pop("cache_dir", None)
        if cache_dir is not None:
            warn_once(
                logger,
                "The Transformer `cache_dir` argument is deprecated. Please pass `cache_dir` via `model_kwargs`, "
                "`processor_kwargs`, and/or `config_kwargs` instead.",
            )
            for dict_name in ("model_kwargs", "processor_kwargs", "config_kwargs"):
                kwargs[dict_name] = {"cache_dir": cache_dir, **(kwargs.get(dict_name) or {})}
        return func(*args, **kwargs)

    return cast("F", wrapper)


def _move_old_positionals(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Turn CrossEncoder's legacy positional arguments after ``model_name_or_path`` into keywords, in place.

    Returns:
        The positional arguments that remain (at most ``model_name_or_path``).
    """
    for name, value in zip(_CROSS_ENCODER_OLD_POSITIONALS, args[1:], strict=False):
        logger.warning(
            f"Passing `{name}` as a positional argument to CrossEncoder is deprecated. "
            f"Please use `{name}={value!r}` as a keyword argument instead."
        )
        kwargs.setdefault(name, value)
    return args[:1]


def cross_encoder_init_args_decorator(func: F) -> F:
    """Accept the deprecated arguments of ``CrossEncoder.__init__``.

    Renames ``model_name``, ``automodel_args``, ``tokenizer_args``/``tokenizer_kwargs``, ``config_args``,
    ``cache_dir`` and ``default_activation_function`` to their current names, moves ``classifier_dropout`` into
    ``config_kwargs``, and turns the old positional ``num_labels, max_length, activation_fn, device`` into keywords.

    Args:
        func: ``CrossEncoder.__init__``.

    Returns:
        The wrapped method.
    """

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            args = _move_old_positionals(args, kwargs)
        _rename(
            kwargs,
            _CROSS_ENCODER_RENAMES,
            "The CrossEncoder `{old}` argument was renamed and is now deprecated. Please use `{new}` instead.",
        )
        if "classifier_dropout" in kwargs:
            dropout = kwargs.pop("classifier_dropout")
            logger.warning(
                "The CrossEncoder `classifier_dropout` argument is deprecated. Please use "
                f"`config_kwargs={{'classifier_dropout': {dropout}}}` instead."
            )
            kwargs["config_kwargs"] = {**(kwargs.get("config_kwargs") or {}), "classifier_dropout": dropout}
        return func(self, *args, **kwargs)

    return cast("F", wrapper)


def _drop_ignored(kwargs: dict[str, Any], names: list[str], message: str) -> None:
    """Remove arguments that no longer have any effect, warning once per name."""
    for name in names:
        if name in kwargs:
            kwargs.pop(name)
            warn_once(logger, message.format(name=name))


def cross_encoder_predict_rank_args_decorator(func: F) -> F:
    """Accept the deprecated arguments of ``CrossEncoder.predict`` and ``CrossEncoder.rank``.

    ``sentences`` → ``inputs`` and ``activation_fct`` → ``activation_fn``; ``num_workers`` is dropped, as are
    ``convert_to_numpy``/``convert_to_tensor`` where the method no longer declares them, and ``apply_softmax`` on
    ``rank``. Each with a one-time warning.

    Args:
        func: ``CrossEncoder.predict`` or ``CrossEncoder.rank``.

    Returns:
        The wrapped method.
    """
    method = func.__name__
    parameters = inspect.signature(func).parameters
    dropped = [name for name in ("convert_to_numpy", "convert_to_tensor") if name not in parameters]

    @deprecated_kwargs(sentences="inputs", activation_fct="activation_fn")
    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _drop_ignored(
            kwargs,
            ["num_workers"],
            f"The CrossEncoder.{method} `{{name}}` argument is deprecated and has no effect. "
            "It will be removed in a future version.",
        )
        if method == "rank":
            _drop_ignored(
                kwargs,
                ["apply_softmax"],
                "The CrossEncoder.rank `{name}` argument is deprecated and has no effect, as `rank` only supports "
                "models with `num_labels=1`. It will be removed in a future version.",
            )
        _drop_ignored(
            kwargs,
            dropped,
            f"The CrossEncoder.{method} `{{name}}` argument is deprecated and has no effect, as `{method}` always "
            "returns Python floats. It will be removed in a future version.",
        )
        return func(self, *args, **kwargs)

    return cast("F", wrapper)


def save_to_hub_args_decorator(func: F) -> F:
    """Adapt old calls of ``save_to_hub``: ``repo_name`` → ``repo_id``, and a ``None`` token slot for positionals.

    ``save_to_hub(repo_id, organization, private, ...)`` gained ``token`` as its third parameter, so positional
    calls with two or more arguments get ``None`` inserted there.

    Args:
        func: The ``save_to_hub`` method.

    Returns:
        The wrapped method.
    """

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        repo_name = kwargs.pop("repo_name", None)
        if repo_name and "repo_id" not in kwargs:
            warn_once(
                logger,
                "Providing a `repo_name` keyword argument to `save_to_hub` is deprecated. Please use `repo_id` "
                "instead.",
            )
            kwargs["repo_id"] = repo_name
        if len(args) >= 2:
            args = (*args[:2], None, *args[2:])
        return func(self, *args, **kwargs)

    return cast("F", wrapper)
