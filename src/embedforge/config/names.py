"""Loss and evaluator classes by name, per model family, with close matches for unknown names."""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import re
from collections.abc import Sequence

from embedforge.config.families import DEFAULT_FAMILY, recipe_family

__all__ = ["UnknownNameError", "evaluator_class", "loss_class", "unknown_arguments"]


class UnknownNameError(ValueError):
    """A loss or evaluator class name that does not exist; the message lists close matches."""


def loss_class(name: str, family: str = DEFAULT_FAMILY) -> type:
    """The loss class ``name`` of the family's losses module (``embedforge.losses.<name>`` for bi-encoders).

    Raises:
        UnknownNameError: With the closest known names.
    """
    known = _known_losses(family)
    if name not in known:
        raise UnknownNameError(_unknown(_kind("loss", family), name, sorted(known)))
    return known[name]


def _known_losses(family: str) -> dict[str, type]:
    """The family's loss classes (modules, not helpers such as ``InputSpec``, enums or weighting schemes)."""
    from torch import nn

    from embedforge.losses.base import BaseLoss

    losses = recipe_family(family).module("losses_module")
    classes = {name: getattr(losses, name) for name in losses.__all__ if name not in ("Loss", "CrossEncoderLoss")}
    return {
        name: cls
        for name, cls in classes.items()
        if isinstance(cls, type)
        and issubclass(cls, nn.Module)
        and (issubclass(cls, BaseLoss) or family == DEFAULT_FAMILY)
    }


def evaluator_class(name: str, family: str = DEFAULT_FAMILY) -> type:
    """The evaluator class ``name``: from the family's evaluation package, else from its own module there.

    Raises:
        UnknownNameError: With the closest known names.
    """
    evaluation = recipe_family(family).module("evaluation_module")
    found = getattr(evaluation, name, None) if name and not name.startswith("_") else None
    if isinstance(found, type):
        return found
    module_name = _snake(name.removesuffix("Evaluator"))
    if module_name and any(info.name == module_name for info in pkgutil.iter_modules(evaluation.__path__)):
        found = getattr(importlib.import_module(f"{evaluation.__name__}.{module_name}"), name, None)
        if isinstance(found, type):
            return found
    raise UnknownNameError(_unknown(_kind("evaluator", family), name, _known_evaluators(family)))


def _kind(what: str, family: str) -> str:
    return what if family == DEFAULT_FAMILY else f"{family} {what}"


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)).lower()


def _known_evaluators(family: str) -> list[str]:
    from embedforge.evaluation.base import SentenceEvaluator

    evaluation = recipe_family(family).module("evaluation_module")
    names = {name for name in evaluation.__all__ if name.endswith("Evaluator")}
    for info in pkgutil.iter_modules(evaluation.__path__):
        module = importlib.import_module(f"{evaluation.__name__}.{info.name}")
        names |= {
            key
            for key, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, SentenceEvaluator)
            and key.endswith("Evaluator")
            and not key.startswith("_")
        }
    return sorted(names - {"SentenceEvaluator", "BaseEvaluator"})


def _unknown(kind: str, name: str, known: list[str]) -> str:
    lowered = {item.lower(): item for item in known}  # case-insensitive: CosentLoss -> CoSENTLoss
    close = [lowered[item] for item in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})"


def unknown_arguments(cls: type, names: Sequence[str], skip: Sequence[str] = ()) -> list[str]:
    """Messages for each of ``names`` that ``cls``'s constructor does not take (with close matches)."""
    parameters = [name for name in inspect.signature(cls).parameters if name not in ("self", *skip)]
    return [
        _unknown(f"argument of {cls.__name__}", name, parameters).replace("known:", "accepted:")
        for name in names
        if name not in parameters
    ]
