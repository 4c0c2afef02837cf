"""Similarity functions, at the path sentence-transformers names ``util.similarity``.

Gathers the single-vector similarity matrices (:mod:`embedforge.util.dense_similarity`), their pairwise diagonals
(:mod:`embedforge.util.pairwise`), the multi-vector MaxSim family (:mod:`embedforge.util.maxsim`) and the
:class:`SimilarityFunction` enum that names them. Every name here is the same object as in its defining module.
"""

from __future__ import annotations

from embedforge.util.dense_similarity import cos_sim, dot_score, euclidean_sim, manhattan_sim, pytorch_cos_sim
from embedforge.util.maxsim import maxsim, maxsim_pairwise, mean_maxsim, mean_maxsim_pairwise
from embedforge.util.pairwise import (
    pairwise_angle_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
)
from embedforge.util.similarity_function import SimilarityFunction

__all__ = [
    "SimilarityFunction",
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "manhattan_sim",
    "maxsim",
    "maxsim_pairwise",
    "mean_maxsim",
    "mean_maxsim_pairwise",
    "pairwise_angle_sim",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "pytorch_cos_sim",
]
