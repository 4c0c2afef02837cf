"""The :class:`SimilarityFunction` enum (``embedforge.similarity_functions``, as in sentence-transformers).

The enum is defined in :mod:`embedforge.util.similarity_function`, beside the functions it names, so that
``embedforge.util`` can export it too without an import cycle.
"""

from __future__ import annotations

from embedforge.util.similarity_function import SimilarityFunction

__all__ = ["SimilarityFunction"]
