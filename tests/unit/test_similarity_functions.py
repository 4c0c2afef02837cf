"""SimilarityFunction: names, lookups and errors, compared with sentence-transformers 6.2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from embedforge import util
from embedforge.similarity_functions import SimilarityFunction

NAMES = ["cosine", "dot", "euclidean", "manhattan"]


@pytest.fixture(scope="module")
def st_similarity_function():
    return pytest.importorskip("sentence_transformers.util").SimilarityFunction


def _random(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_members_and_aliases() -> None:
    assert [member.value for member in SimilarityFunction] == NAMES
    assert SimilarityFunction.DOT is SimilarityFunction.DOT_PRODUCT
    assert SimilarityFunction("dot") is SimilarityFunction.DOT_PRODUCT
    assert SimilarityFunction.COSINE == "cosine"
    assert str(SimilarityFunction.MANHATTAN) == "manhattan"
    assert json.dumps({"fn": SimilarityFunction.EUCLIDEAN}) == '{"fn": "euclidean"}'
    assert SimilarityFunction(SimilarityFunction.COSINE) is SimilarityFunction.COSINE


def test_public_paths_are_one_class() -> None:
    import embedforge

    assert embedforge.SimilarityFunction is SimilarityFunction
    assert util.SimilarityFunction is SimilarityFunction


@pytest.mark.interop
def test_possible_values_match_st_without_multi_vector_names(st_similarity_function) -> None:
    theirs = [name for name in st_similarity_function.possible_values() if "maxsim" not in name]
    assert SimilarityFunction.possible_values() == theirs == NAMES


@pytest.mark.parametrize(
    ("name", "matrix_fn", "pairwise_fn"),
    [
        ("cosine", util.cos_sim, util.pairwise_cos_sim),
        ("dot", util.dot_score, util.pairwise_dot_score),
        ("euclidean", util.euclidean_sim, util.pairwise_euclidean_sim),
        ("manhattan", util.manhattan_sim, util.pairwise_manhattan_sim),
    ],
)
def test_lookups_return_the_util_functions(name, matrix_fn, pairwise_fn) -> None:
    assert SimilarityFunction.to_similarity_fn(name) is matrix_fn
    assert SimilarityFunction.to_similarity_fn(SimilarityFunction(name)) is matrix_fn
    assert SimilarityFunction.to_similarity_pairwise_fn(name) is pairwise_fn
    a, b = _random((4, 6), 0), _random((4, 6), 1)
    torch.testing.assert_close(pairwise_fn(a, b), torch.diagonal(matrix_fn(a, b)))


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_lookups_compute_what_st_computes(st_similarity_function, name) -> None:
    a, b = _random((5, 8), 2), _random((5, 8), 3)
    torch.testing.assert_close(
        SimilarityFunction.to_similarity_fn(name)(a, b), st_similarity_function.to_similarity_fn(name)(a, b)
    )
    torch.testing.assert_close(
        SimilarityFunction.to_similarity_pairwise_fn(name)(a, b),
        st_similarity_function.to_similarity_pairwise_fn(name)(a, b),
    )


@pytest.mark.parametrize(
    "call",
    [
        SimilarityFunction,
        SimilarityFunction.to_similarity_fn,
        SimilarityFunction.to_similarity_pairwise_fn,
    ],
)
@pytest.mark.parametrize("bad", ["cosine_similarity", "Cosine", "maxsim", ""])
def test_unknown_names_explain_what_was_expected_and_the_fix(call, bad) -> None:
    with pytest.raises(ValueError, match="Unknown similarity function") as error:
        call(bad)
    message = str(error.value)
    assert repr(bad) in message  # what was found
    assert all(name in message for name in NAMES)  # what was expected
    assert "SimilarityFunction('cosine')" in message  # how to fix it
