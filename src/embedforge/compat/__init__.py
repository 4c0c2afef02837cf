"""Import paths that other code expects, resolved lazily to embedforge's own modules (a table, not stub files)."""

from __future__ import annotations

from embedforge.compat.finder import install_alias_finder

__all__ = ["install_alias_finder"]
