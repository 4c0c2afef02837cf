"""Read a sentence-transformers model folder into embedforge modules."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from embedforge.io.layout import MODEL_CONFIG_FILE, MODEL_TYPE, MODULES_FILE, ModelConfig, ModuleEntry
from embedforge.io.registry import UnknownModuleTypeError, known_type_names, resolve_type

if TYPE_CHECKING:
    from embedforge.models.base import LoadContext, Module


def is_sentence_transformer_folder(path: Path) -> bool:
    """True if ``path`` is a folder with a ``modules.json``."""
    return (path / MODULES_FILE).is_file()


def read_modules_file(path: Path) -> list[ModuleEntry]:
    """Parse ``modules.json`` in ``path``."""
    with open(path / MODULES_FILE, encoding="utf-8") as handle:
        return [ModuleEntry.from_json(item) for item in json.load(handle)]


def read_model_config(path: Path) -> ModelConfig:
    """Parse ``config_sentence_transformers.json`` in ``path`` (an absent file gives the defaults)."""
    config_file = path / MODEL_CONFIG_FILE
    if not config_file.is_file():
        return ModelConfig()
    with open(config_file, encoding="utf-8") as handle:
        return ModelConfig.from_json(json.load(handle))


def detect_model_type(path: Path) -> str:
    """The model family of a local folder: its ``model_type``, or a guess for folders that do not name one.

    A folder with ``modules.json`` names its family in ``config_sentence_transformers.json`` (folders written before
    families existed are bi-encoders). A plain transformers checkpoint whose architecture is a
    ``*ForSequenceClassification`` (e.g. a v4/v5 cross-encoder) is a ``CrossEncoder``; any other one a
    ``SentenceTransformer`` (Transformer + mean pooling).
    """
    if is_sentence_transformer_folder(path):
        return read_model_config(path).model_type
    config_file = path / "config.json"
    if config_file.is_file():
        with open(config_file, encoding="utf-8") as handle:
            architectures = json.load(handle).get("architectures") or []
        if any(str(name).endswith("ForSequenceClassification") for name in architectures):
            return "CrossEncoder"
    return MODEL_TYPE


def module_class_for(type_name: str, model_root: Path, context: LoadContext) -> type[Module]:
    """Resolve a ``modules.json`` type name to a Module class, without importing anything named by the file.

    With ``trust_remote_code=True`` a type ``"file.ClassName"`` may also come from ``file.py`` inside the model
    folder itself (code the user chose to trust); nothing outside the folder is ever imported.

    Raises:
        UnknownModuleTypeError: If the name is neither built in, registered, nor allowed custom code.
    """
    cls = resolve_type(type_name)
    if cls is not None:
        return cls
    if context.trust_remote_code:
        custom = _class_from_model_folder(type_name, model_root)
        if custom is not None:
            return custom
    raise UnknownModuleTypeError(
        f"modules.json in {model_root} names the module type {type_name!r}, which embedforge does not know. "
        f"Known types (under any 'sentence_transformers.' path): {', '.join(known_type_names())}. "
        f"To load a custom module, register its class first with "
        f"embedforge.io.register_module({type_name!r}, MyModule), or, if the model folder ships that class in "
        f"a .py file and you trust it, pass trust_remote_code=True."
    )


def _class_from_model_folder(type_name: str, model_root: Path) -> type[Module] | None:
    from embedforge.models.base import Module

    file_stem, _, class_name = type_name.rpartition(".")
    source = model_root / f"{file_stem.replace('.', '/')}.py"
    if not file_stem or not source.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"embedforge_remote_code.{file_stem}", source)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cls = getattr(module, class_name, None)
    if isinstance(cls, type) and issubclass(cls, Module):
        return cls
    raise UnknownModuleTypeError(
        f"{source} defines {class_name!r} but it is not a subclass of embedforge.models.Module; "
        "custom modules must subclass it to be loaded."
    )


def load_module(type_name: str, path: Path, context: LoadContext, model_root: Path | None = None) -> Module:
    """Load one module saved in ``path`` whose ``modules.json`` type is ``type_name``.

    Args:
        type_name: The type string from ``modules.json`` (or a router config).
        path: The module's folder.
        context: Loading options.
        model_root: The model folder (for custom code under ``trust_remote_code``); defaults to ``path``.
    """
    cls = module_class_for(type_name, model_root or path, context)
    return cls.load(path, context=context)


def load_entries(path: Path, context: LoadContext) -> list[tuple[ModuleEntry, Module]]:
    """Load every module listed in ``modules.json`` in pipeline order.

    Module types are all resolved before any weights are read, so an unknown type fails fast.
    """
    entries = sorted(read_modules_file(path), key=lambda entry: entry.idx)
    classes = [module_class_for(entry.type, path, context) for entry in entries]
    return [(entry, cls.load(path / entry.path, context=context)) for entry, cls in zip(entries, classes, strict=True)]
