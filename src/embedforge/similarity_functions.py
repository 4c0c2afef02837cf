"""``embedforge.similarity_functions``: the :class:`SimilarityFunction` enum and the similarity functions it names.

sentence-transformers 6.2 keeps this older path as an alias of ``sentence_transformers.util.similarity``; here it
holds the same objects as :mod:`embedforge.util.similarity` (the enum is defined in
:mod:`embedforge.util.similarity_function`, beside the functions it names).
"""

from __future__ import annotations

from embedforge.util import similarity as _similarity
from embedforge.util.similarity import *  # noqa: F403 - this path holds exactly util.similarity's names

__all__ = list(_similarity.__all__)
