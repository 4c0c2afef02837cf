"""Write a model folder in the sentence-transformers layout.

Everything is first written to a temporary folder next to the target and only then moved into place, so a
failure while serializing leaves an existing model folder untouched. Files in the target that the model does
not write (checkpoints, logs) are kept.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from embedforge.io.layout import MODEL_CARD_FILE, MODEL_CONFIG_FILE, MODULES_FILE, ModelConfig, ModuleEntry
from embedforge.io.registry import type_name_of

if TYPE_CHECKING:
    from embedforge.models.base import Module


def module_folder(idx: int, module: Module) -> str:
    """Relative folder of a module: the root for an input module at index 0, else ``{idx}_{ClassName}``."""
    return "" if idx == 0 and module.save_in_root else f"{idx}_{type(module).__name__}"


def save_model_folder(
    path: str | Path,
    modules: Sequence[tuple[str, Module]],
    config: ModelConfig,
    *,
    safe_serialization: bool = True,
    model_card: str | None = None,
) -> None:
    """Save named modules, ``modules.json``, ``config_sentence_transformers.json`` and an optional model card.

    Args:
        path: Target folder (created if missing).
        modules: ``(name, module)`` pairs in pipeline order.
        config: Model-level settings.
        safe_serialization: safetensors (True) or pickled weights (False).
        model_card: README.md text, if any.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.saving-", dir=target.parent))
    try:
        entries = []
        for idx, (name, module) in enumerate(modules):
            folder = module_folder(idx, module)
            (staging / folder).mkdir(parents=True, exist_ok=True)  # as sentence-transformers: custom saves assume it
            module.save(staging / folder, safe_serialization=safe_serialization)
            kwargs = tuple(sorted(module.forward_kwargs))
            entries.append(ModuleEntry(idx=idx, name=name, path=folder, type=type_name_of(module), kwargs=kwargs))
        _write_json(staging / MODULES_FILE, [entry.to_json() for entry in entries])
        _write_json(staging / MODEL_CONFIG_FILE, config.to_json())
        if model_card is not None:
            (staging / MODEL_CARD_FILE).write_text(model_card, encoding="utf-8")
        _move_into(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_json(path: Path, data: object) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def _move_into(staging: Path, target: Path) -> None:
    """Move every entry of ``staging`` into ``target``, replacing same-named entries."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in staging.iterdir():
        destination = target / entry.name
        if destination.is_dir() and entry.is_dir():
            shutil.rmtree(destination)
        entry.replace(destination)
