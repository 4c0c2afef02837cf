"""The activation a CrossEncoder applies to its logits in ``predict``: saved by name, restored from a table.

sentence-transformers saves the activation as a dotted class path (``config_sentence_transformers.json``
``activation_fn``; ``config.json`` ``sentence_transformers.activation_fn`` in v4/v5 folders,
``sbert_ce_default_activation_function`` in v3 ones) and imports it back. embedforge never imports a path read
from a file: the known torch activations are listed here; another name falls back to the default activation
with a warning, unless it was registered with :func:`register_activation`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import nn

logger = logging.getLogger(__name__)

_TORCH_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.Identity,
    nn.Sigmoid,
    nn.Tanh,
    nn.ReLU,
    nn.GELU,
    nn.LogSigmoid,
    nn.Softsign,
    nn.SiLU,
    nn.Hardtanh,
    nn.LeakyReLU,
    nn.ELU,
    nn.Softplus,
)
_KNOWN: dict[str, type[nn.Module]] = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in _TORCH_ACTIVATIONS}
_KNOWN.update({f"torch.nn.{cls.__qualname__}": cls for cls in _TORCH_ACTIVATIONS})


def register_activation(path: str, cls: type[nn.Module]) -> None:
    """Let saved folders name the activation ``path`` and load it as ``cls()`` (a custom activation module).

    Args:
        path: The dotted name found in (and written to) the folder, e.g. ``"my_package.ScaledSigmoid"``.
        cls: An ``nn.Module`` subclass constructible without arguments.
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"register_activation expects an nn.Module subclass, got {cls!r}.")
    _KNOWN[path] = cls


def activation_name(activation: Callable[..., Any] | None) -> str | None:
    """The dotted name saved for ``activation``: the module and name of its class, as sentence-transformers writes."""
    if activation is None:
        return None
    return f"{type(activation).__module__}.{type(activation).__qualname__}"


def activation_from_name(path: str | None) -> nn.Module | None:
    """The activation named ``path``, or None (with a warning) if the name is not known.

    Args:
        path: A dotted name read from a saved folder.
    """
    if path is None:
        return None
    cls = _KNOWN.get(path)
    if cls is None:
        logger.warning(
            "The saved activation function %r is not one embedforge knows (torch activations: Identity, Sigmoid, "
            "Tanh, ReLU, …); using the default activation instead. embedforge never imports a class path read from "
            "a file: register the class with embedforge.cross_encoder.register_activation(%r, MyActivation) "
            "before loading.",
            path,
            path,
        )
        return None
    return cls()


def default_activation(num_labels: int) -> nn.Module:
    """``Sigmoid`` for one label (a relevance score in (0, 1)), ``Identity`` for class logits."""
    return nn.Sigmoid() if num_labels == 1 else nn.Identity()


def legacy_activation_name(config: Any) -> str | None:
    """The activation a v3-v5 cross-encoder recorded in its transformers ``config.json``, or None."""
    block = getattr(config, "sentence_transformers", None)
    if isinstance(block, dict) and block.get("activation_fn"):
        return str(block["activation_fn"])
    legacy = getattr(config, "sbert_ce_default_activation_function", None)
    return str(legacy) if legacy else None
