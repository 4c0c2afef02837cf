"""The kinds of entry in embedforge's table of import paths (records of data, no behaviour)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModuleAlias:
    """A path that imports as another embedforge module (the same module object).

    Attributes:
        path: The module path code may import, e.g. ``embedforge.sentence_transformer.losses``.
        target: The module it resolves to, e.g. ``embedforge.losses``. Submodules follow: with this entry,
            ``embedforge.sentence_transformer.losses.cosent`` is ``embedforge.losses.cosent``.
        deprecated: Warn (``DeprecationWarning``) when the alias is imported, naming ``target``.
    """

    path: str
    target: str
    deprecated: bool = True


@dataclass(frozen=True)
class CompositeAlias:
    """A path whose names live in several embedforge modules: imported as a module built from a name table.

    Attributes:
        path: The module path code may import, e.g. ``embedforge.base``.
        names: Public name -> where embedforge defines it, as ``"module"`` (same attribute name) or
            ``"module:attribute"``, e.g. ``{"BaseModel": "embedforge.model.base"}``. Each name is imported on
            first access, so importing the alias itself imports nothing heavy.
        package: Whether the path is a package (other aliases live below it).
    """

    path: str
    names: Mapping[str, str] = field(hash=False)
    package: bool = False
