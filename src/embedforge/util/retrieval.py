"""Retrieval over embeddings, at the path sentence-transformers names ``util.retrieval``.

Semantic search (:mod:`embedforge.util.search`), paraphrase mining (:mod:`embedforge.util.mining`) and community
detection (:mod:`embedforge.util.community`); every name here is the same object as in its defining module.
"""

from __future__ import annotations

from embedforge.util.community import community_detection
from embedforge.util.mining import paraphrase_mining, paraphrase_mining_embeddings
from embedforge.util.search import information_retrieval, semantic_search

__all__ = [
    "community_detection",
    "information_retrieval",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
    "semantic_search",
]
