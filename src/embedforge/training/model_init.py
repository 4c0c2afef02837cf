"""``model_init``: a fresh model per training run (hyperparameter search), with the losses moved onto it."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from torch import nn

logger = logging.getLogger("embedforge.training.base_trainer")

ModelInit = Callable[..., nn.Module]
"""A callable taking no argument, or the search trial, and returning a fresh model."""


def fresh_model(model_init: ModelInit, trial: Any = None) -> nn.Module:
    """Call ``model_init`` as transformers does: with ``trial`` when it takes one parameter, else without.

    Raises:
        TypeError: If ``model_init`` takes more than one parameter, or returns None.
    """
    parameters = inspect.signature(model_init).parameters
    if len(parameters) > 1:
        raise TypeError(
            f"model_init takes {len(parameters)} parameters ({', '.join(parameters)}); it must take none, or one "
            "(the hyperparameter-search trial)."
        )
    model = model_init(trial) if parameters else model_init()
    if model is None:
        raise TypeError("model_init returned None; it must return a fresh model.")
    return model


def initial_model(model: Any, model_init: ModelInit | None, optimizers: tuple[Any, Any], trainer: str) -> Any:
    """The model a trainer starts with: ``model``, or one from ``model_init`` when no model is given.

    Raises:
        ValueError: If neither is given, or ``model_init`` comes with ``optimizers`` (built for one model only).
    """
    if model is None:
        if model_init is None:
            raise ValueError(f"{trainer} needs model= or model_init=; got neither.")
        model = fresh_model(model_init)
    elif model_init is not None:
        logger.warning("Both model= and model_init= given: model_init replaces the model at each train().")
    if model_init is not None and optimizers != (None, None):
        raise ValueError(
            "model_init= builds a new model at each train(), which optimizers= cannot follow; drop optimizers= "
            "(or pass optimizer_cls_and_kwargs=, which builds the optimizer for each new model)."
        )
    check_trainable_backend(model, trainer)
    return model


def check_trainable_backend(model: nn.Module, trainer: str) -> None:
    """Refuse a model whose Transformer runs an exported runtime (ONNX, OpenVINO): it has nothing to train.

    Raises:
        ValueError: Naming the backend and the fix, before any training step.
    """
    from embedforge.backend.backend_model import BackendModel

    for module in model.modules():
        if isinstance(module, BackendModel):
            raise ValueError(
                f"{trainer} trains torch models; this model runs its Transformer with backend="
                f"{module.backend_name!r} ({module.source_file_name}), which is inference only. Load the model "
                "with backend='torch' to train it, then export the trained model (e.g. backend='onnx' on the saved "
                "folder, or embedforge export)."
            )


def losses_for_new_model(given: Any, built: Any, previous: nn.Module, model: nn.Module) -> Any:
    """The trainer's losses for ``model``, which replaces ``previous``.

    A loss given as a factory (``loss=lambda model: ...``) is built again for the new model; a loss given as a
    module (or the default loss) keeps its own state and has every reference to ``previous`` among its
    submodules replaced by ``model``.

    Args:
        given: The ``loss`` argument the trainer received: a module, a factory, a dict of those, or None.
        built: The losses built from it (a module or a dict of modules, keyed as ``given``).
        previous: The model the losses were built with.
        model: The fresh model.

    Returns:
        The losses, in the shape of ``built``.
    """
    if isinstance(built, dict):
        return {
            name: losses_for_new_model(given.get(name) if isinstance(given, dict) else None, loss, previous, model)
            for name, loss in built.items()
        }
    if given is not None and not isinstance(given, nn.Module):
        return given(model)
    _replace_submodule(built, previous, model)
    return built


def _replace_submodule(root: nn.Module, previous: nn.Module, model: nn.Module) -> None:
    """Point every attribute of ``root``'s submodules that holds ``previous`` at ``model`` instead."""
    for module in list(root.modules()):
        for name, child in list(module.named_children()):
            if child is previous:
                setattr(module, name, model)
