"""CompositeModule: a module whose public names are looked up in other embedforge modules on first access."""

from __future__ import annotations

import importlib
import types
from collections.abc import Collection, Mapping
from typing import Any

_SOURCES = "__embedforge_sources__"
_SUBMODULES = "__embedforge_submodules__"


class CompositeModule(types.ModuleType):
    """A module built from a table ``{name: "module" | "module:attribute"}``; each name resolves lazily.

    ``from embedforge.base import BaseModel`` imports ``embedforge.model.base`` only then, and the value is
    cached on the module, so later lookups cost a dictionary access. Names of aliased submodules (e.g.
    ``embedforge.base.modules``) resolve as attributes too, by importing them.

    Args:
        name: The module's import path, e.g. ``embedforge.base``.
        sources: Public name -> defining module, optionally ``:attribute`` when the attribute is named
            differently there.
        submodules: The last path component of each alias that lives directly below this module.
        doc: The module docstring.
    """

    def __init__(
        self, name: str, sources: Mapping[str, str], submodules: Collection[str] = (), doc: str | None = None
    ) -> None:
        super().__init__(name, doc)
        self.__dict__[_SOURCES] = dict(sources)
        self.__dict__[_SUBMODULES] = frozenset(submodules)
        self.__all__ = list(sources)

    def __getattr__(self, name: str) -> Any:
        source = self.__dict__[_SOURCES].get(name)
        if source is not None:
            module_name, _, attribute = source.partition(":")
            value = getattr(importlib.import_module(module_name), attribute or name)
            self.__dict__[name] = value
            return value
        if name in self.__dict__[_SUBMODULES]:
            return importlib.import_module(f"{self.__name__}.{name}")
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<module {self.__name__!r} (names from several embedforge modules)>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__[_SOURCES]) | self.__dict__[_SUBMODULES])
