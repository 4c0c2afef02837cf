"""Every import path embedforge accepts beyond its own modules, gathered from the data files of this package.

embedforge mirrors sentence-transformers 6.2's import paths under its own package name (``sentence_transformers.X``
-> ``embedforge.X``):

- the family paths of 6.2 (``embedforge.sentence_transformer.losses``, ``embedforge.base.modules``, ...):
  :mod:`embedforge.compat.family_paths`;
- the older paths 6.2 still accepts with a ``DeprecationWarning`` (``embedforge.losses.CoSENTLoss``,
  ``embedforge.cross_encoder.CrossEncoder``, ...): :mod:`embedforge.compat.deprecated_paths`;
- the paths of features embedforge lacks, which fail with a clear ``ImportError``:
  :mod:`embedforge.compat.unavailable_paths`.

:mod:`embedforge.compat.finder` resolves them on first import; nothing here imports the modules themselves.
"""

from __future__ import annotations

from embedforge.compat.deprecated_paths import DEPRECATED_PATHS
from embedforge.compat.entries import CompositeAlias, ModuleAlias
from embedforge.compat.family_paths import COMPOSITE_PACKAGES, FAMILY_COMPOSITES, FAMILY_MODULES

__all__ = [
    "ALIASES_BY_PATH",
    "COMPOSITES_BY_PATH",
    "COMPOSITE_ALIASES",
    "MODULE_ALIASES",
    "CompositeAlias",
    "ModuleAlias",
]

MODULE_ALIASES: tuple[ModuleAlias, ...] = (
    *(ModuleAlias(path, target, deprecated=False) for path, target in FAMILY_MODULES.items()),
    *(ModuleAlias(path, target) for path, target in DEPRECATED_PATHS.items()),
)
"""Paths that are another module: the 6.2 family paths, then the deprecated ones (in 6.2's order)."""

COMPOSITE_ALIASES: tuple[CompositeAlias, ...] = tuple(
    CompositeAlias(path, names, package=path in COMPOSITE_PACKAGES) for path, names in FAMILY_COMPOSITES.items()
)
"""Paths built from names spread over several embedforge modules."""

ALIASES_BY_PATH: dict[str, ModuleAlias] = {alias.path: alias for alias in MODULE_ALIASES}
COMPOSITES_BY_PATH: dict[str, CompositeAlias] = {alias.path: alias for alias in COMPOSITE_ALIASES}
