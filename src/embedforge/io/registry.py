"""Names of module types in ``modules.json`` ↔ embedforge classes.

sentence-transformers records each module as a dotted class path and imports it on load. embedforge never
imports a path read from a file: every name is looked up here. Built-in types resolve by their class name
under any ``sentence_transformers.`` or ``embedforge.`` prefix (all historical ST paths); other types must be
registered explicitly with :func:`register_module`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedforge.models.base import Module

_ST = "sentence_transformers"
_ST_DENSE = f"{_ST}.sentence_transformer.modules"
_ST_BASE = f"{_ST}.base.modules"


@dataclass(frozen=True)
class BuiltinType:
    """A module class shipped with embedforge.

    Attributes:
        module: The embedforge module (a constant of this file) that defines the class.
        class_name: The class name, also the last part of every ST type name that maps to it.
        st_name: The name written to ``modules.json`` (what sentence-transformers 6.2 writes).
    """

    module: str
    class_name: str
    st_name: str


BUILTIN_TYPES: tuple[BuiltinType, ...] = (
    BuiltinType("embedforge.models.transformer", "Transformer", f"{_ST_BASE}.transformer.Transformer"),
    BuiltinType("embedforge.models.pooling", "Pooling", f"{_ST_DENSE}.pooling.Pooling"),
    BuiltinType("embedforge.models.dense", "Dense", f"{_ST_BASE}.dense.Dense"),
    BuiltinType("embedforge.models.normalize", "Normalize", f"{_ST_BASE}.normalize.Normalize"),
    BuiltinType(
        "embedforge.models.static_embedding", "StaticEmbedding", f"{_ST_DENSE}.static_embedding.StaticEmbedding"
    ),
    BuiltinType("embedforge.models.router", "Router", f"{_ST_BASE}.router.Router"),
    BuiltinType("embedforge.models.word_embeddings", "WordEmbeddings", f"{_ST_DENSE}.word_embeddings.WordEmbeddings"),
    BuiltinType("embedforge.models.word_weights", "WordWeights", f"{_ST_DENSE}.word_weights.WordWeights"),
    BuiltinType(
        "embedforge.models.weighted_layer_pooling",
        "WeightedLayerPooling",
        f"{_ST_DENSE}.weighted_layer_pooling.WeightedLayerPooling",
    ),
    BuiltinType("embedforge.models.layer_norm", "LayerNorm", f"{_ST_DENSE}.layer_norm.LayerNorm"),
    BuiltinType("embedforge.models.dropout", "Dropout", f"{_ST_DENSE}.dropout.Dropout"),
    BuiltinType("embedforge.models.cnn", "CNN", f"{_ST_DENSE}.cnn.CNN"),
    BuiltinType("embedforge.models.lstm", "LSTM", f"{_ST_DENSE}.lstm.LSTM"),
    BuiltinType("embedforge.models.bow", "BoW", f"{_ST_DENSE}.bow.BoW"),
    # saved as sentence-transformers 6.2 saves dual encoders: a Transformer with a multimodal modality_config
    BuiltinType("embedforge.models.clip_model", "CLIPModel", f"{_ST_BASE}.transformer.Transformer"),
)

MODEL_FAMILIES: dict[str, BuiltinType] = {
    "SentenceTransformer": BuiltinType(
        "embedforge.model.sentence_transformer", "SentenceTransformer", "SentenceTransformer"
    ),
    "CrossEncoder": BuiltinType("embedforge.cross_encoder.model", "CrossEncoder", "CrossEncoder"),
}
"""``config_sentence_transformers.json`` ``model_type`` → the embedforge class of that model family (its ``st_name``
is the ``model_type`` itself). sentence-transformers 6.2 also has ``SparseEncoder`` and ``MultiVectorEncoder``,
which embedforge does not implement."""

_ALIASES = {"Asym": "Router"}
_BY_CLASS_NAME = {entry.class_name: entry for entry in BUILTIN_TYPES}
_CUSTOM: dict[str, type[Module]] = {}


class UnknownModuleTypeError(ValueError):
    """A ``modules.json`` names a module type that is neither built in nor registered."""


def register_module(type_name: str, cls: type[Module]) -> None:
    """Allow ``modules.json`` entries named ``type_name`` to load as ``cls``.

    Args:
        type_name: The exact string found in (and written to) ``modules.json``.
        cls: An :class:`embedforge.models.Module` subclass.

    Raises:
        TypeError: If ``cls`` is not a Module subclass.
    """
    from embedforge.models.base import Module

    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_module expects a subclass of embedforge.models.Module, got {cls!r}.")
    _CUSTOM[type_name] = cls


def known_type_names() -> list[str]:
    """All names accepted in ``modules.json`` besides prefix variants: built-in class names and registered names."""
    return sorted([entry.class_name for entry in BUILTIN_TYPES] + list(_ALIASES) + list(_CUSTOM))


def _builtin_for(type_name: str) -> BuiltinType | None:
    prefix, _, class_name = type_name.rpartition(".")
    if prefix.split(".")[0] not in (_ST, "embedforge"):
        return None
    return _BY_CLASS_NAME.get(_ALIASES.get(class_name, class_name))


def resolve_type(type_name: str) -> type[Module] | None:
    """Return the class for a ``modules.json`` type name, or None if it is unknown.

    Only embedforge's own modules are imported, by the constant paths above.
    """
    if type_name in _CUSTOM:
        return _CUSTOM[type_name]
    entry = _builtin_for(type_name)
    if entry is None:
        return None
    return getattr(importlib.import_module(entry.module), entry.class_name)


def family_class(model_type: str) -> type:
    """The embedforge model class of a saved folder's ``model_type``.

    Raises:
        UnknownModuleTypeError: For a family embedforge does not implement, naming the ones it does.
    """
    entry = MODEL_FAMILIES.get(model_type)
    if entry is None:
        raise UnknownModuleTypeError(
            f"The folder holds a {model_type!r} model, a family embedforge does not implement (it implements "
            f"{', '.join(MODEL_FAMILIES)}). Load it with sentence-transformers, or with one of those classes to "
            "convert its backbone."
        )
    return getattr(importlib.import_module(entry.module), entry.class_name)


def type_name_of(module: Module) -> str:
    """The name to write in ``modules.json`` for ``module``: the ST 6.2 name, or its registered name."""
    for name, cls in _CUSTOM.items():
        if type(module) is cls:
            return name
    entry = _BY_CLASS_NAME.get(type(module).__name__)
    if entry is not None and type(module).__module__ == entry.module:
        return entry.st_name
    raise UnknownModuleTypeError(
        f"Cannot save module {type(module).__qualname__}: its type has no name for modules.json. "
        f"Register it first with embedforge.io.register_module('my_package.{type(module).__name__}', "
        f"{type(module).__name__})."
    )
