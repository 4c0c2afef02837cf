"""A meta-path finder that imports the paths of :mod:`embedforge.compat.aliases`.

- A :class:`~embedforge.compat.entries.ModuleAlias` imports its target and registers the same module object under
  the alias in ``sys.modules`` (so both paths give identical objects), warning first when the alias is deprecated.
- Below an alias of a package, every submodule is the target's submodule of the same name
  (``embedforge.sentence_transformer.losses.cosent`` is ``embedforge.losses.cosent``), never a second copy.
- A :class:`~embedforge.compat.entries.CompositeAlias` imports as a
  :class:`~embedforge.compat.composite_module.CompositeModule` whose names resolve on first access.
- A path of :mod:`embedforge.compat.unavailable_paths` raises ``ImportError`` saying what is missing.

Python sets an imported module's last name as an attribute of its parent package; when the parent already exports
a class of that name (``embedforge.cross_encoder.CrossEncoder``, the class, vs. the old module path of the same
name), that class is kept.
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

from embedforge.compat.aliases import ALIASES_BY_PATH, COMPOSITES_BY_PATH
from embedforge.compat.composite_module import CompositeModule
from embedforge.compat.entries import CompositeAlias, ModuleAlias
from embedforge.compat.unavailable_paths import unavailable_reason

_KEEP = "__embedforge_keep_attributes__"
_PREFIX = "embedforge."


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


class _CompositeLoader(importlib.abc.Loader):
    """Builds the :class:`CompositeModule` of one composite alias (its names resolve later, on access)."""

    def __init__(self, alias: CompositeAlias) -> None:
        self.alias = alias

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """A new composite module for ``spec.name``."""
        doc = f"sentence-transformers' ``{spec.name.replace('embedforge', 'sentence_transformers', 1)}`` names."
        return CompositeModule(spec.name, self.alias.names, _children(spec.name), doc)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the names resolve on first access."""
        del module


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds the paths of :mod:`embedforge.compat.aliases` and refuses those of unavailable features."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for an alias path, None for other names.

        Raises:
            ImportError: ``fullname`` is (below) a sentence-transformers path that embedforge does not implement.
        """
        del path, target
        if not fullname.startswith(_PREFIX):
            return None
        alias = ALIASES_BY_PATH.get(fullname)
        reason = unavailable_reason(fullname if alias is None else alias.target)
        if reason is not None:
            raise ImportError(
                f"Cannot import {fullname!r}: {reason}. (sentence-transformers 6.2 has this module; embedforge, "
                "which mirrors its import paths, does not.)",
                name=fullname,
            )
        if alias is not None:
            return _alias_spec(alias)
        composite = COMPOSITES_BY_PATH.get(fullname)
        if composite is not None:
            return importlib.util.spec_from_loader(fullname, _CompositeLoader(composite), is_package=composite.package)
        return _submodule_of_alias_spec(fullname)


def _alias_spec(alias: ModuleAlias) -> importlib.machinery.ModuleSpec | None:
    """Warn when deprecated, import the target and return a spec that hands it out under the alias's name."""
    if alias.deprecated:
        warnings.warn(
            f"Importing from {alias.path!r} is deprecated (sentence-transformers moved it); "
            f"import from {alias.target!r} instead.",
            DeprecationWarning,
            stacklevel=_caller_level(),
        )
    module = importlib.import_module(alias.target)
    _protect_parent_attribute(alias.path)
    return importlib.util.spec_from_loader(alias.path, _AliasLoader(module))


def _submodule_of_alias_spec(fullname: str) -> importlib.machinery.ModuleSpec | None:
    """For ``<alias of package P>.child``: a spec handing out ``P.child``; None when the parent is no alias."""
    parent_name, _, child = fullname.rpartition(".")
    parent = sys.modules.get(parent_name)
    if parent is None or parent.__name__ == parent_name:
        return None
    real_name = f"{parent.__name__}.{child}"
    try:
        module = importlib.import_module(real_name)
    except ModuleNotFoundError as error:
        if error.name != real_name:
            raise
        return None
    return importlib.util.spec_from_loader(fullname, _AliasLoader(module))


def _children(path: str) -> set[str]:
    """The last components of the alias paths directly below ``path``."""
    prefix = f"{path}."
    return {
        name.removeprefix(prefix)
        for name in (*ALIASES_BY_PATH, *COMPOSITES_BY_PATH)
        if name.startswith(prefix) and "." not in name.removeprefix(prefix)
    }


def _caller_level() -> int:
    """The stack level of the first frame outside importlib and this module (where the import was written)."""
    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None and ("importlib" in frame.f_code.co_filename or frame.f_code.co_filename == __file__):
        frame = frame.f_back
        level += 1
    return level


def _protect_parent_attribute(path: str) -> None:
    """Keep a class the parent package exports under the alias's last name (the import would replace it)."""
    parent_name, _, child = path.rpartition(".")
    parent = sys.modules.get(parent_name)
    if parent is None or isinstance(parent, CompositeModule):
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
