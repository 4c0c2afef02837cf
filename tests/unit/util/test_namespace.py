"""embedforge.util exposes ST 6.2's util names and submodules, each name the same object as in its defining module."""

from __future__ import annotations

import importlib

import pytest

import embedforge.util as util

SUBMODULES = {
    "dataset": ["resolve_ids"],
    "decorators": [
        "deprecated_kwargs",
        "transformer_kwargs_decorator",
        "cross_encoder_init_args_decorator",
        "cross_encoder_predict_rank_args_decorator",
        "save_to_hub_args_decorator",
    ],
    "distributed": [
        "get_rank",
        "get_world_size",
        "all_gather",
        "all_gather_with_grad",
        "all_gather_padded",
        "distributed_evaluation",
    ],
    "environment": [
        "suggest_extra_on_exception",
        "is_dist_initialized",
        "get_device_name",
        "check_package_availability",
        "is_accelerate_available",
        "is_datasets_available",
        "is_training_available",
        "get_installed_version",
        "check_version_requirements",
    ],
    "file_io": ["disabled_tqdm", "is_sentence_transformer_model", "load_file_path", "load_dir_path", "http_get"],
    "hard_negatives": ["mine_hard_negatives"],
    "logging": ["LoggingHandler", "install_logger"],
    "misc": [
        "fullname",
        "similarity_fct_name",
        "check_teacher_targets",
        "import_from_string",
        "import_module_class",
        "disable_datasets_caching",
        "disable_logging",
        "append_to_last_row",
        "ORIGINAL_TRANSFORMER_MODELS",
    ],
    "quantization": ["semantic_search_faiss", "semantic_search_usearch", "quantize_embeddings"],
    "retrieval": [
        "paraphrase_mining",
        "paraphrase_mining_embeddings",
        "information_retrieval",
        "semantic_search",
        "community_detection",
    ],
    "similarity": [
        "pytorch_cos_sim",
        "cos_sim",
        "pairwise_cos_sim",
        "dot_score",
        "pairwise_dot_score",
        "manhattan_sim",
        "pairwise_manhattan_sim",
        "euclidean_sim",
        "pairwise_euclidean_sim",
        "maxsim",
        "maxsim_pairwise",
        "mean_maxsim",
        "mean_maxsim_pairwise",
        "pairwise_angle_sim",
        "SimilarityFunction",
    ],
    "tensor": [
        "normalize_embeddings",
        "truncate_embeddings",
        "select_max_active_dims",
        "repad_flattened_features",
        "stack_padded_token_embeddings",
        "cat_padded_token_embeddings",
        "batch_to_device",
        "to_scipy_coo",
        "compute_count_vector",
    ],
}


def test_all_covers_st_util_all():
    st_util = pytest.importorskip("sentence_transformers.util")
    assert set(st_util.__all__) <= set(util.__all__)
    assert len(st_util.__all__) == 65
    for name in util.__all__:
        assert getattr(util, name) is not None


@pytest.mark.parametrize("submodule", sorted(SUBMODULES))
def test_submodule_names(submodule: str):
    module = importlib.import_module(f"embedforge.util.{submodule}")
    for name in SUBMODULES[submodule]:
        value = getattr(module, name)
        if name in util.__all__:
            assert getattr(util, name) is value, name


@pytest.mark.parametrize("submodule", sorted(SUBMODULES))
def test_submodule_public_names_match_st(submodule: str):
    st_module = pytest.importorskip(f"sentence_transformers.util.{submodule}")
    module = importlib.import_module(f"embedforge.util.{submodule}")
    st_defined = [
        name
        for name, value in vars(st_module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == st_module.__name__
    ]
    assert [name for name in st_defined if getattr(module, name, None) is None] == []


def test_existing_functions_are_reexported_not_copied():
    from embedforge.util import community, dense_similarity, mining, pairwise, retrieval, search, similarity, tensors
    from embedforge.util import tensor as st_tensor

    assert similarity.cos_sim is dense_similarity.cos_sim
    assert similarity.pairwise_cos_sim is pairwise.pairwise_cos_sim
    assert retrieval.semantic_search is search.semantic_search
    assert retrieval.paraphrase_mining is mining.paraphrase_mining
    assert retrieval.community_detection is community.community_detection
    assert st_tensor.normalize_embeddings is tensors.normalize_embeddings
    assert st_tensor._convert_to_tensor is tensors._convert_to_tensor


def test_faiss_search_is_the_top_level_function():
    import embedforge.quantization
    from embedforge.util.quantization import semantic_search_faiss

    assert semantic_search_faiss is embedforge.quantization.semantic_search_faiss
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        importlib.import_module("embedforge.util.quantization").missing  # noqa: B018


def test_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, embedforge.util; "
        "heavy = ('datasets', 'transformers', 'scipy', 'huggingface_hub', 'sklearn'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
