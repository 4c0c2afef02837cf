"""Recipes: the typed schema of a training run (YAML is its serialized form), data loading, building, validation.

- :mod:`embedforge.config.recipe`: the dataclasses, ``load_recipe`` (overrides, ``${VAR}``), ``dump_recipe``.
- :mod:`embedforge.config.data`: load a :class:`DatasetSpec` (local files, folders, BEIR qrels pairs, Hub).
- :mod:`embedforge.config.build`: model, datasets, losses, evaluators and training arguments from a recipe.
- :mod:`embedforge.config.validate`: every problem of a recipe at once, without training.

Heavy libraries (torch, transformers, datasets) are imported inside the functions that need them.
"""

from __future__ import annotations

from embedforge.config.build import build_evaluators
from embedforge.config.recipe import (
    DatasetSpec,
    EvaluatorSpec,
    LossSpec,
    ModelCardSpec,
    ModelSpec,
    Recipe,
    RecipeError,
    dump_recipe,
    load_recipe,
)
from embedforge.config.validate import ValidationReport, validate_recipe

__all__ = [
    "DatasetSpec",
    "EvaluatorSpec",
    "LossSpec",
    "ModelCardSpec",
    "ModelSpec",
    "Recipe",
    "RecipeError",
    "ValidationReport",
    "build_evaluators",
    "dump_recipe",
    "load_recipe",
    "validate_recipe",
]
