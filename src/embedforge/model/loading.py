"""Turn a model name or folder into the modules and settings of a model of one family."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from embedforge.io.hub import ST_ORGANIZATION, ModelNotFoundError, resolve_model_folder
from embedforge.io.layout import MODEL_CARD_FILE, ModelConfig
from embedforge.io.load import is_sentence_transformer_folder, load_entries, read_model_config
from embedforge.models.base import LoadContext, Module

if TYPE_CHECKING:
    from embedforge.model.base import BaseModel

logger = logging.getLogger(__name__)

SIMILARITY_FN_NAMES = ("cosine", "dot", "euclidean", "manhattan")


def version_info() -> dict[str, str]:
    """Versions recorded in ``config_sentence_transformers.json`` (embedforge, transformers, pytorch)."""
    import torch

    return {
        "embedforge": metadata.version("embedforge"),
        "pytorch": torch.__version__,
        "transformers": metadata.version("transformers"),
    }


def build_pipeline(
    name_or_path: str | Path | None,
    modules: Iterable[nn.Module] | None,
    context: LoadContext,
    family: type[BaseModel],
) -> tuple[OrderedDict[str, nn.Module], ModelConfig, str | None]:
    """The named modules, model config and model card of a ``family`` model built from a name or modules."""
    name = family.__name__
    if name_or_path is not None and modules is not None:
        raise ValueError(f"{name} takes model_name_or_path or modules, not both; pass one of them.")
    if name_or_path is not None:
        return load_pipeline(name_or_path, context, family)
    if modules is None:
        raise ValueError(f"{name} needs model_name_or_path or modules; got neither.")
    if isinstance(modules, OrderedDict):
        return modules, ModelConfig(model_type=family.model_type), None
    named = OrderedDict((str(index), module) for index, module in enumerate(modules))
    return named, ModelConfig(model_type=family.model_type), None


def load_pipeline(
    name_or_path: str | Path, context: LoadContext, family: type[BaseModel]
) -> tuple[OrderedDict[str, nn.Module], ModelConfig, str | None]:
    """Load the modules, model config and model card of ``name_or_path`` as a model of ``family``.

    A folder with ``modules.json`` written by the same family loads its modules. Anything else — a plain
    transformers checkpoint, an older folder without ``modules.json``, or a folder of another family (whose
    prompts and settings no longer apply) — gets the family's default modules on top of its checkpoint.

    Returns:
        Named modules in order, the model config, and the README.md text (None if absent or not used).
    """
    folder = resolve_family_folder(name_or_path, context, family.default_huggingface_organization)
    fresh = ModelConfig(model_type=family.model_type)
    if not is_sentence_transformer_folder(folder):
        return _named(family.default_modules(folder, context)), fresh, None
    config = read_model_config(folder)
    if config.model_type != family.model_type:
        logger.warning("Converting %s model %s to %s.", config.model_type, folder, family.model_type)
        return _named(family.default_modules(folder, context)), fresh, None
    modules = OrderedDict((entry.name, module) for entry, module in load_entries(folder, context))
    card_file = folder / MODEL_CARD_FILE
    card = card_file.read_text(encoding="utf-8") if card_file.is_file() else None
    return modules, config, card


def resolve_family_folder(name_or_path: str | Path, context: LoadContext, organization: str | None) -> Path:
    """The local folder of ``name_or_path``; a bare Hub name is tried as ``organization/name`` first.

    This is how sentence-transformers resolves short names (``"ms-marco-MiniLM-L6-v2"`` →
    ``"cross-encoder/ms-marco-MiniLM-L6-v2"`` for a CrossEncoder). If that repository is not found, the name is
    resolved as usual (``sentence-transformers/name``, then ``name``).
    """
    hub = {
        "cache_folder": context.cache_folder,
        "revision": context.revision,
        "token": context.token,
        "local_files_only": context.local_files_only,
    }
    name = str(name_or_path)
    bare = isinstance(name_or_path, str) and "/" not in name and "\\" not in name
    if organization not in (None, ST_ORGANIZATION) and bare and not Path(name).expanduser().exists():
        try:
            return resolve_model_folder(f"{organization}/{name}", **hub)
        except ModelNotFoundError:
            logger.debug("No Hub repository %s/%s; resolving %r as usual.", organization, name, name)
    return resolve_model_folder(name_or_path, **hub)


def _named(modules: list[Module]) -> OrderedDict[str, nn.Module]:
    return OrderedDict((str(index), module) for index, module in enumerate(modules))


def load_model(name_or_path: str | Path, model_type: str | None = None, **kwargs: object) -> BaseModel:
    """Load a model of the family its folder names (or ``model_type``): a SentenceTransformer or a CrossEncoder.

    Args:
        name_or_path: A local folder or a Hub id.
        model_type: ``"SentenceTransformer"`` or ``"CrossEncoder"``; default: read from the folder
            (:func:`embedforge.io.load.detect_model_type`).
        **kwargs: Constructor arguments of the family's class (``device``, ``trust_remote_code``…).

    Raises:
        UnknownModuleTypeError: For a family embedforge does not implement.
    """
    from embedforge.io.load import detect_model_type
    from embedforge.io.registry import family_class

    if model_type is None:
        model_type = detect_model_type(resolve_model_folder(name_or_path))
    return family_class(model_type)(str(name_or_path), **kwargs)


def require_checkpoint(folder: Path) -> None:
    """Raise a clear error if ``folder`` holds no transformers checkpoint (``config.json``)."""
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"Expected a sentence-transformers folder (modules.json) or a transformers checkpoint (config.json) "
            f"in {folder}, found neither. Point to the folder that holds one of them."
        )


def check_similarity_fn_name(value: str | Enum | None) -> str | None:
    """Validate a similarity function name (a SimilarityFunction member is accepted)."""
    if isinstance(value, Enum):
        value = value.value
    if value == "dot_product":
        value = "dot"
    if value is not None and value not in SIMILARITY_FN_NAMES:
        raise ValueError(f"similarity_fn_name must be one of {SIMILARITY_FN_NAMES}, got {value!r}. Pick one of those.")
    return value


def check_default_prompt(name: str | None, prompts: dict[str, str]) -> str | None:
    """Check that the default prompt name is one of the prompts."""
    if name is not None and name not in prompts:
        raise ValueError(
            f"default_prompt_name {name!r} is not among the model's prompts {sorted(prompts)}. "
            "Add it to prompts= or choose one of those names."
        )
    return name
