"""Embedding utilities: similarity functions, semantic search, paraphrase mining, community detection, quantization.

Mirrors ``sentence_transformers.util`` for the functions that operate on embeddings, so that porting code is a
search-and-replace of the package name. Only torch and numpy are imported eagerly.
"""

from __future__ import annotations

from embedforge.util.community import community_detection
from embedforge.util.hard_negatives import mine_hard_negatives
from embedforge.util.mining import SupportsEncode, paraphrase_mining, paraphrase_mining_embeddings
from embedforge.util.pairwise import (
    pairwise_angle_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
)
from embedforge.util.quantization import Precision, quantize_embeddings
from embedforge.util.search import information_retrieval, semantic_search
from embedforge.util.similarity import cos_sim, dot_score, euclidean_sim, manhattan_sim, pytorch_cos_sim
from embedforge.util.similarity_function import SimilarityFunction
from embedforge.util.tensors import (
    ArrayLike,
    batch_to_device,
    normalize_embeddings,
    truncate_embeddings,
)

__all__ = [
    "ArrayLike",
    "Precision",
    "SimilarityFunction",
    "SupportsEncode",
    "batch_to_device",
    "community_detection",
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "information_retrieval",
    "manhattan_sim",
    "mine_hard_negatives",
    "normalize_embeddings",
    "pairwise_angle_sim",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
    "pytorch_cos_sim",
    "quantize_embeddings",
    "semantic_search",
    "truncate_embeddings",
]
