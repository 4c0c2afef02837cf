"""``embedforge.similarity_functions``: the :class:`SimilarityFunction` enum and the similarity functions it names.

sentence-transformers 6.2 keeps this older path as an alias of ``sentence_transformers.util.similarity``; here it
holds the same objects as :mod:`embedforge.util.similarity` (the enum is defined in
:mod:`embedforge.util.similarity_function`, beside the functions it names).
"""

from __future__ import annotations

from embedforge.util.similarity import (
    SimilarityFunction,
    cos_sim,
    dot_score,
    euclidean_sim,
    manhattan_sim,
    maxsim,
    maxsim_pairwise,
    mean_maxsim,
    mean_maxsim_pairwise,
    pairwise_angle_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
    pytorch_cos_sim,
)

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
