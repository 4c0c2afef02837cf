"""Utilities of sentence-transformers' ``util`` package: similarity, search, mining, quantization, tensors, I/O.

Every name of ``sentence_transformers.util.__all__`` (6.2) is here, and so is each of its submodules under the same
name (``embedforge.util.similarity``, ``.tensor``, ``.distributed``, ``.environment``, ``.file_io``, ``.logging``,
``.misc``, ``.decorators``, ``.dataset``, ``.retrieval``, ``.quantization``, ``.hard_negatives``), so that porting
code is a search-and-replace of the package name. Only torch, numpy and tqdm are imported eagerly; huggingface_hub,
datasets, scipy and transformers are imported by the functions that need them.
"""

from __future__ import annotations

from embedforge.util.community import community_detection
from embedforge.util.dataset import resolve_ids
from embedforge.util.decorators import save_to_hub_args_decorator
from embedforge.util.distributed import all_gather, all_gather_padded, all_gather_with_grad, get_rank, get_world_size
from embedforge.util.environment import (
    check_package_availability,
    check_version_requirements,
    get_device_name,
    is_accelerate_available,
    is_datasets_available,
    is_dist_initialized,
    is_training_available,
)
from embedforge.util.file_io import (
    disabled_tqdm,
    http_get,
    is_sentence_transformer_model,
    load_dir_path,
    load_file_path,
)
from embedforge.util.hard_negatives import mine_hard_negatives
from embedforge.util.logging import LoggingHandler, install_logger
from embedforge.util.mining import SupportsEncode, paraphrase_mining, paraphrase_mining_embeddings
from embedforge.util.misc import (
    ORIGINAL_TRANSFORMER_MODELS,
    append_to_last_row,
    check_teacher_targets,
    disable_datasets_caching,
    disable_logging,
    fullname,
    import_from_string,
    import_module_class,
    similarity_fct_name,
)
from embedforge.util.quantization import Precision, quantize_embeddings
from embedforge.util.search import information_retrieval, semantic_search
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
from embedforge.util.tensor import (
    _convert_to_batch,
    _convert_to_batch_tensor,
    _convert_to_tensor,
    _move_tensors_to_cpu,
    batch_to_device,
    cat_padded_token_embeddings,
    compute_count_vector,
    normalize_embeddings,
    repad_flattened_features,
    select_max_active_dims,
    stack_padded_token_embeddings,
    to_scipy_coo,
    truncate_embeddings,
)
from embedforge.util.tensors import ArrayLike

__all__ = [
    "ORIGINAL_TRANSFORMER_MODELS",
    "ArrayLike",
    "LoggingHandler",
    "Precision",
    "SimilarityFunction",
    "SupportsEncode",
    "_convert_to_batch",
    "_convert_to_batch_tensor",
    "_convert_to_tensor",
    "_move_tensors_to_cpu",
    "all_gather",
    "all_gather_padded",
    "all_gather_with_grad",
    "append_to_last_row",
    "batch_to_device",
    "cat_padded_token_embeddings",
    "check_package_availability",
    "check_teacher_targets",
    "check_version_requirements",
    "community_detection",
    "compute_count_vector",
    "cos_sim",
    "disable_datasets_caching",
    "disable_logging",
    "disabled_tqdm",
    "dot_score",
    "euclidean_sim",
    "fullname",
    "get_device_name",
    "get_rank",
    "get_world_size",
    "http_get",
    "import_from_string",
    "import_module_class",
    "information_retrieval",
    "install_logger",
    "is_accelerate_available",
    "is_datasets_available",
    "is_dist_initialized",
    "is_sentence_transformer_model",
    "is_training_available",
    "load_dir_path",
    "load_file_path",
    "manhattan_sim",
    "maxsim",
    "maxsim_pairwise",
    "mean_maxsim",
    "mean_maxsim_pairwise",
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
    "repad_flattened_features",
    "resolve_ids",
    "save_to_hub_args_decorator",
    "select_max_active_dims",
    "semantic_search",
    "similarity_fct_name",
    "stack_padded_token_embeddings",
    "to_scipy_coo",
    "truncate_embeddings",
]
