"""Similarity functions: parity with sentence-transformers 6.2 and checks against direct numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedforge import util
from embedforge.util.tensors import _convert_to_batch_tensor, _convert_to_float_tensor, _convert_to_tensor

MATRIX_FNS = ["cos_sim", "dot_score", "euclidean_sim", "manhattan_sim", "pytorch_cos_sim"]
PAIRWISE_FNS = [
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "pairwise_angle_sim",
]
SHAPES = [((1, 8), (1, 8)), ((5, 8), (3, 8)), ((30, 17), (40, 17)), ((3, 1), (4, 1))]


@pytest.fixture(scope="module")
def st_util():
    return pytest.importorskip("sentence_transformers.util")


def _random(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _sparse(shape: tuple[int, int], seed: int, density: float = 0.3) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    dense = rng.random(shape).astype(np.float32) * (rng.random(shape) < density)
    return torch.from_numpy(dense).to_sparse()


# ---- parity with sentence-transformers -------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("name", MATRIX_FNS)
@pytest.mark.parametrize(("shape_a", "shape_b"), SHAPES)
@pytest.mark.parametrize("kind", ["numpy", "torch", "list"])
def test_matrix_functions_match_st(st_util, name, shape_a, shape_b, kind) -> None:
    a, b = _random(shape_a, 0), _random(shape_b, 1)
    if kind == "torch":
        a, b = torch.from_numpy(a), torch.from_numpy(b)
    elif kind == "list":
        a, b = a.tolist(), b.tolist()
    ours = getattr(util, name)(a, b)
    theirs = getattr(st_util, name)(a, b)
    assert ours.shape == theirs.shape == (shape_a[0], shape_b[0])
    assert ours.dtype == theirs.dtype
    torch.testing.assert_close(ours, theirs)


@pytest.mark.interop
@pytest.mark.parametrize("name", MATRIX_FNS)
def test_matrix_functions_single_vectors_match_st(st_util, name) -> None:
    a, b = torch.from_numpy(_random((6,), 2)), torch.from_numpy(_random((4, 6), 3))
    torch.testing.assert_close(getattr(util, name)(a, b), getattr(st_util, name)(a, b))
    torch.testing.assert_close(getattr(util, name)(b, a), getattr(st_util, name)(b, a))


@pytest.mark.interop
@pytest.mark.parametrize("name", PAIRWISE_FNS)
@pytest.mark.parametrize("shape", [(1, 8), (6, 8), (9, 7), (4, 1)])
def test_pairwise_functions_match_st(st_util, name, shape) -> None:
    a, b = torch.from_numpy(_random(shape, 4)), torch.from_numpy(_random(shape, 5))
    ours = getattr(util, name)(a, b)
    theirs = getattr(st_util, name)(a, b)
    assert ours.shape == theirs.shape == (shape[0],)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.interop
@pytest.mark.parametrize("name", MATRIX_FNS + PAIRWISE_FNS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_scored_in_float32_like_st(st_util, name, dtype) -> None:
    a = torch.from_numpy(_random((5, 8), 6)).to(dtype)
    b = torch.from_numpy(_random((5, 8), 7)).to(dtype)
    ours = getattr(util, name)(a, b)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, getattr(st_util, name)(a, b))


@pytest.mark.interop
@pytest.mark.parametrize("name", MATRIX_FNS + PAIRWISE_FNS)
@pytest.mark.parametrize("layout", ["both", "a", "b"])
def test_sparse_inputs_match_st(st_util, name, layout) -> None:
    a, b = _sparse((6, 20), 8), _sparse((6, 20), 9)
    if layout == "a":
        b = b.to_dense()
    elif layout == "b":
        a = a.to_dense()
    ours = getattr(util, name)(a, b)
    assert not ours.is_sparse
    torch.testing.assert_close(ours, getattr(st_util, name)(a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.interop
@pytest.mark.parametrize("sparse", [False, True])
def test_normalize_embeddings_matches_st(st_util, sparse) -> None:
    dense = torch.from_numpy(_random((4, 10), 10))
    dense[2] = 0.0
    embeddings = dense.to_sparse() if sparse else dense
    ours = util.normalize_embeddings(embeddings)
    theirs = st_util.normalize_embeddings(embeddings)
    assert ours.is_sparse == sparse
    torch.testing.assert_close(ours.to_dense(), theirs.to_dense())


@pytest.mark.interop
def test_truncate_embeddings_matches_st(st_util) -> None:
    array = _random((3, 16), 11)
    np.testing.assert_array_equal(util.truncate_embeddings(array, 4), st_util.truncate_embeddings(array, 4))
    tensor = torch.from_numpy(array)
    torch.testing.assert_close(util.truncate_embeddings(tensor, 5), st_util.truncate_embeddings(tensor, 5))


# ---- direct formulas ------------------------------------------------------------------------------------------


def test_cos_sim_matches_numpy_formula() -> None:
    a, b = _random((7, 12), 12), _random((9, 12), 13)
    expected = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(util.cos_sim(a, b).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(util.pairwise_cos_sim(a, b[:7]).numpy(), np.diag(expected[:, :7]), rtol=1e-5, atol=1e-6)


def test_dot_and_distances_match_numpy_formulas() -> None:
    a, b = _random((4, 6), 14), _random((5, 6), 15)
    difference = a[:, None, :] - b[None, :, :]
    np.testing.assert_allclose(util.dot_score(a, b).numpy(), a @ b.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        util.euclidean_sim(a, b).numpy(), -np.sqrt((difference**2).sum(-1)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(util.manhattan_sim(a, b).numpy(), -np.abs(difference).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        util.pairwise_euclidean_sim(a, b[:4]).numpy(), -np.linalg.norm(a - b[:4], axis=1), rtol=1e-5
    )
    np.testing.assert_allclose(util.pairwise_manhattan_sim(a, b[:4]).numpy(), -np.abs(a - b[:4]).sum(1), rtol=1e-5)


@pytest.mark.parametrize("dim", [8, 9])
def test_pairwise_angle_sim_matches_complex_formula(dim) -> None:
    x, y = _random((5, dim), 16), _random((5, dim), 17)
    if dim % 2:
        x, y = np.pad(x, ((0, 0), (0, 1))), np.pad(y, ((0, 0), (0, 1)))
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    half = x.shape[1] // 2
    zx = x[:, :half] + 1j * x[:, half:]
    zy = y[:, :half] + 1j * y[:, half:]
    # zx · conj(zy) = Σ (x_re·y_re + x_im·y_im) + i Σ (x_im·y_re − x_re·y_im): the cosine and sine terms
    product = (zx * np.conj(zy)).sum(1)
    cosine, sine = np.real(product), np.imag(product)
    expected = np.abs(cosine + sine)
    np.testing.assert_allclose(util.pairwise_angle_sim(x[:, :dim], y[:, :dim]).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_zero_vectors_score_zero_cosine() -> None:
    a = np.zeros((2, 4), dtype=np.float32)
    b = _random((3, 4), 18)
    assert torch.equal(util.cos_sim(a, b), torch.zeros(2, 3))
    assert torch.equal(util.normalize_embeddings(torch.from_numpy(a)), torch.zeros(2, 4))


def test_known_values() -> None:
    torch.testing.assert_close(util.cos_sim([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0]]), torch.tensor([[1.0], [2**-0.5]]))
    torch.testing.assert_close(util.euclidean_sim([[0.0, 0.0]], [[3.0, 4.0]]), torch.tensor([[-5.0]]))
    torch.testing.assert_close(util.manhattan_sim([[0.0, 0.0]], [[3.0, -4.0]]), torch.tensor([[-7.0]]))


# ---- tensor helpers -------------------------------------------------------------------------------------------


def test_convert_to_tensor_views_writable_arrays_and_copies_read_only_ones() -> None:
    array = _random((3, 4), 19)
    assert np.shares_memory(_convert_to_tensor(array).numpy(), array)
    array.flags.writeable = False
    copied = _convert_to_tensor(array)
    assert not np.shares_memory(copied.numpy(), array)
    torch.testing.assert_close(copied, torch.from_numpy(array.copy()))


def test_convert_to_tensor_stacks_lists() -> None:
    rows = [_random((4,), seed) for seed in range(3)]
    assert _convert_to_tensor(rows).shape == (3, 4)
    assert _convert_to_tensor([torch.from_numpy(row) for row in rows]).shape == (3, 4)
    sparse = _convert_to_tensor([torch.from_numpy(row).relu().to_sparse() for row in rows])
    assert sparse.is_sparse and sparse.shape == (3, 4)
    assert _convert_to_batch_tensor([1.0, 2.0]).shape == (1, 2)


def test_convert_to_float_tensor_upcasts_only_narrow_floats() -> None:
    assert _convert_to_float_tensor(torch.ones(2, dtype=torch.float16)).dtype == torch.float32
    assert _convert_to_float_tensor(torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    assert _convert_to_float_tensor(torch.ones(2, dtype=torch.int64)).dtype == torch.int64


def test_batch_to_device_moves_only_tensors() -> None:
    batch = {"input_ids": torch.ones(2, 3, dtype=torch.long), "text": ["a", "b"]}
    moved = util.batch_to_device(batch, "meta")
    assert moved is batch
    assert moved["input_ids"].device.type == "meta"
    assert moved["text"] == ["a", "b"]


# ---- public names and signatures ------------------------------------------------------------------------------


def _signature(function) -> list[tuple[str, str, object]]:
    import inspect

    def default(value: object) -> object:
        return value.__name__ if callable(value) else value

    return [(p.name, p.kind.name, default(p.default)) for p in inspect.signature(function).parameters.values()]


@pytest.mark.interop
@pytest.mark.parametrize(
    "name",
    [
        *MATRIX_FNS,
        *PAIRWISE_FNS,
        "normalize_embeddings",
        "truncate_embeddings",
        "batch_to_device",
        "semantic_search",
        "paraphrase_mining",
        "paraphrase_mining_embeddings",
        "community_detection",
        "quantize_embeddings",
    ],
)
def test_public_signatures_match_st(st_util, name) -> None:
    assert name in util.__all__
    assert _signature(getattr(util, name)) == _signature(getattr(st_util, name))
