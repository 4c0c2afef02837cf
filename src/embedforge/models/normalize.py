"""Normalize: L2-normalizes an embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from torch.nn import functional

from embedforge.models.base import Features, LoadContext, Module, read_json


class Normalize(Module):
    """Scales ``features[module_input_name]`` of shape ``(..., dim)`` to unit L2 norm.

    Args:
        module_input_name: Key to read (default ``"sentence_embedding"``).
        module_output_name: Key to write; defaults to ``module_input_name``.
    """

    config_keys: ClassVar[tuple[str, ...]] = ("module_input_name", "module_output_name")

    def __init__(self, module_input_name: str = "sentence_embedding", module_output_name: str | None = None) -> None:
        super().__init__()
        self.module_input_name = module_input_name
        self.module_output_name = module_output_name or module_input_name

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Write the normalized tensor, same shape as the input; a missing input key is left alone."""
        value = features.get(self.module_input_name)
        if value is not None:
            features[self.module_output_name] = functional.normalize(value, p=2, dim=-1)
        return features

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> Normalize:
        """Load from ``path``; old folders (before ST 6.0) have no Normalize folder or config at all."""
        del context
        config = read_json(path / cls.config_file_name) if path.is_dir() else {}
        return cls(**{key: value for key, value in config.items() if key in cls.config_keys})
