"""The sentence-transformers folder layout, written down as data.

A saved model folder holds::

    modules.json                        ordered list of ModuleEntry
    config_sentence_transformers.json   ModelConfig (versions, prompts, model family and its settings)
    README.md                           model card (optional)
    <module folders>                    one per module; the input module is saved in the root

Each module folder holds the module's config file (``config.json`` unless the module says otherwise) and its
weights (``model.safetensors``; ``pytorch_model.bin`` in old folders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODULES_FILE = "modules.json"
MODEL_CONFIG_FILE = "config_sentence_transformers.json"
MODEL_CARD_FILE = "README.md"
MODEL_TYPE = "SentenceTransformer"
"""The family of folders whose ``config_sentence_transformers.json`` names none (every pre-v4 save)."""


@dataclass(frozen=True)
class ModuleEntry:
    """One line of ``modules.json``.

    Attributes:
        idx: Position of the module in the pipeline.
        name: Name of the module in the pipeline (``"0"``, ``"1"``…).
        path: Folder of the module, relative to the model folder (``""`` for the root).
        type: The sentence-transformers type name, e.g. ``sentence_transformers.models.Pooling``.
        kwargs: Names of ``encode`` keyword arguments the module accepts (e.g. ``["task"]``).
    """

    idx: int
    name: str
    path: str
    type: str
    kwargs: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleEntry:
        """Parse one entry, accepting the keys written by every sentence-transformers version."""
        return cls(
            idx=int(data.get("idx", 0)),
            name=str(data.get("name", data.get("idx", 0))),
            path=str(data.get("path", "")),
            type=str(data["type"]),
            kwargs=tuple(data.get("kwargs", ())),
        )

    def to_json(self) -> dict[str, Any]:
        """Serialize as sentence-transformers writes it (``kwargs`` only when not empty)."""
        data: dict[str, Any] = {"idx": self.idx, "name": self.name, "path": self.path, "type": self.type}
        if self.kwargs:
            data["kwargs"] = list(self.kwargs)
        return data


FAMILY_SETTINGS: dict[str, tuple[str, ...]] = {
    "SentenceTransformer": ("similarity_fn_name",),
    "CrossEncoder": ("activation_fn", "keep_in_fp32_modules"),
}
"""The keys of ``config_sentence_transformers.json`` that belong to one model family, by ``model_type``.

``keep_in_fp32_modules`` is written only when set (as sentence-transformers 6.2 does); the other keys always.
"""
_WRITTEN_WHEN_SET = frozenset({"keep_in_fp32_modules"})


@dataclass(frozen=True)
class ModelConfig:
    """Contents of ``config_sentence_transformers.json``.

    Attributes:
        versions: Library versions that wrote the folder (``__version__``).
        prompts: Named prompts, e.g. ``{"query": "query: "}``.
        default_prompt_name: Prompt applied when none is given.
        model_type: The model family that wrote the folder (``"SentenceTransformer"``, ``"CrossEncoder"``);
            folders written before families existed hold no such key and are bi-encoders.
        settings: The family's own keys (:data:`FAMILY_SETTINGS`), e.g. ``similarity_fn_name`` of a
            SentenceTransformer or ``activation_fn`` of a CrossEncoder.
    """

    versions: dict[str, str] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    model_type: str = MODEL_TYPE
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        """Parse the file; unknown keys (from newer writers) are ignored."""
        model_type = str(data.get("model_type") or MODEL_TYPE)
        return cls(
            versions=dict(data.get("__version__", {})),
            prompts=dict(data.get("prompts") or {}),
            default_prompt_name=data.get("default_prompt_name"),
            model_type=model_type,
            settings={key: data[key] for key in FAMILY_SETTINGS.get(model_type, ()) if key in data},
        )

    def to_json(self) -> dict[str, Any]:
        """Serialize with the keys sentence-transformers 6.2 writes for the family, sorted by name."""
        data: dict[str, Any] = {
            "__version__": dict(self.versions),
            "default_prompt_name": self.default_prompt_name,
            "model_type": self.model_type,
            "prompts": dict(self.prompts),
        }
        for key in FAMILY_SETTINGS.get(self.model_type, ()):
            value = self.settings.get(key)
            if value or key not in _WRITTEN_WHEN_SET:
                data[key] = value
        return dict(sorted(data.items()))
