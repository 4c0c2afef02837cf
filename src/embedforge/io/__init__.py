"""The sentence-transformers on-disk format: layout, type registry, saving and loading."""

from __future__ import annotations

from embedforge.io.layout import ModelConfig, ModuleEntry
from embedforge.io.registry import UnknownModuleTypeError, register_module

__all__ = ["ModelConfig", "ModuleEntry", "UnknownModuleTypeError", "register_module"]
