"""Turn a model name or folder into the modules and settings of a SentenceTransformer."""

from __future__ import annotations

import logging
from collections import OrderedDict
from importlib import metadata
from pathlib import Path

from torch import nn

from embedforge.io.hub import resolve_model_folder
from embedforge.io.layout import MODEL_CARD_FILE, ModelConfig
from embedforge.io.load import is_sentence_transformer_folder, load_entries, read_model_config
from embedforge.models.base import LoadContext

logger = logging.getLogger(__name__)


def version_info() -> dict[str, str]:
    """Versions recorded in ``config_sentence_transformers.json`` (embedforge, transformers, pytorch)."""
    import torch

    return {
        "embedforge": metadata.version("embedforge"),
        "pytorch": torch.__version__,
        "transformers": metadata.version("transformers"),
    }


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
