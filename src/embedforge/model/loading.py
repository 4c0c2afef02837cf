"""Turn a model name or folder into the modules and settings of a SentenceTransformer."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from enum import Enum
from importlib import metadata
from pathlib import Path

from torch import nn

from embedforge.io.hub import resolve_model_folder
from embedforge.io.layout import MODEL_CARD_FILE, ModelConfig
from embedforge.io.load import is_sentence_transformer_folder, load_entries, read_model_config
from embedforge.models.base import LoadContext

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
    name_or_path: str | Path | None, modules: Iterable[nn.Module] | None, context: LoadContext
) -> tuple[OrderedDict[str, nn.Module], ModelConfig, str | None]:
    """The named modules, model config and model card for a SentenceTransformer built from a name or modules."""
    if name_or_path is not None and modules is not None:
        raise ValueError("SentenceTransformer takes model_name_or_path or modules, not both; pass one of them.")
    if name_or_path is not None:
        return load_pipeline(name_or_path, context)
    if modules is None:
        raise ValueError("SentenceTransformer needs model_name_or_path or modules; got neither.")
    if isinstance(modules, OrderedDict):
        return modules, ModelConfig(), None
    return OrderedDict((str(index), module) for index, module in enumerate(modules)), ModelConfig(), None


def load_pipeline(
    name_or_path: str | Path, context: LoadContext
) -> tuple[OrderedDict[str, nn.Module], ModelConfig, str | None]:
    """Load the modules, model config and model card of ``name_or_path``.

    A folder with ``modules.json`` loads its modules; a plain transformers checkpoint becomes
    Transformer + mean Pooling.

    Returns:
        Named modules in order, the model config, and the README.md text (None if absent).
    """
    folder = resolve_model_folder(
        name_or_path,
        cache_folder=context.cache_folder,
        revision=context.revision,
        token=context.token,
        local_files_only=context.local_files_only,
    )
    if not is_sentence_transformer_folder(folder):
        return _plain_checkpoint(folder, context), ModelConfig(), None
    modules = OrderedDict((entry.name, module) for entry, module in load_entries(folder, context))
    card_file = folder / MODEL_CARD_FILE
    card = card_file.read_text(encoding="utf-8") if card_file.is_file() else None
    return modules, read_model_config(folder), card


def _plain_checkpoint(folder: Path, context: LoadContext) -> OrderedDict[str, nn.Module]:
    from embedforge.models.pooling import Pooling
    from embedforge.models.transformer import Transformer

    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"Expected a sentence-transformers folder (modules.json) or a transformers checkpoint (config.json) "
            f"in {folder}, found neither. Point to the folder that holds one of them."
        )
    logger.warning("No sentence-transformers model found in %s; creating one with mean pooling.", folder)
    transformer = Transformer.load(folder, context)
    pooling = Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    return OrderedDict([("0", transformer), ("1", pooling)])


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
