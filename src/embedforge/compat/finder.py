"""A meta-path finder that imports the aliases of :mod:`embedforge.compat.aliases` as their target modules.

Importing an alias imports its target and registers the same module object under the alias in ``sys.modules``
(so both paths give identical objects), warning first when the alias is deprecated. Python then sets the alias's
last name as an attribute of its parent package; when the parent already exports a class of that name (e.g.
``embedforge.cross_encoder.CrossEncoder``, the class, vs. the old module path of the same name), that class is kept.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

from embedforge.compat.aliases import ALIASES_BY_PATH, ModuleAlias

_KEEP = "__embedforge_keep_attributes__"


class _KeepAttributes(types.ModuleType):
    """A package whose listed attributes survive the import system's ``setattr(parent, child, module)``."""

    def __setattr__(self, name: str, value: object) -> None:
        kept: dict[str, object] = self.__dict__.get(_KEEP, {})
        if name in kept and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already imported target module instead of executing anything."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """The target module itself."""
        del spec
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        """Keep the target's own spec (its canonical name)."""
        module.__spec__ = self.spec


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`~embedforge.compat.aliases.ALIASES_BY_PATH`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec whose loader returns the alias's target module, or None for other names."""
        del path, target
        alias = ALIASES_BY_PATH.get(fullname)
        if alias is None:
            return None
        if alias.deprecated:
            warnings.warn(
                f"Importing from {alias.path!r} is deprecated; import from {alias.target!r} instead.",
                DeprecationWarning,
                stacklevel=_caller_level(),
            )
        module = importlib.import_module(alias.target)
        _protect_parent_attribute(alias)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module))


def _caller_level() -> int:
    """The stack level of the first frame outside importlib and this module (where the import was written)."""
    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None and ("importlib" in frame.f_code.co_filename or frame.f_code.co_filename == __file__):
        frame = frame.f_back
        level += 1
    return level


def _protect_parent_attribute(alias: ModuleAlias) -> None:
    """Keep a class the parent package exports under the alias's last name (the import would replace it)."""
    parent_name, _, child = alias.path.rpartition(".")
    parent = sys.modules.get(parent_name)
    if parent is None:
        return
    current = getattr(parent, child, None)
    if current is None or isinstance(current, types.ModuleType):
        return
    parent.__dict__[child] = current
    parent.__dict__.setdefault(_KEEP, {})[child] = current
    if type(parent) is types.ModuleType:
        parent.__class__ = _KeepAttributes


def install_alias_finder() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
