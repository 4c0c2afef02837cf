"""embedforge.util.tensor: sparse and padding helpers, compared with sentence-transformers 6.2 on examples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedforge.util import tensor


@pytest.fixture(scope="module")
def st_tensor():
    return pytest.importorskip("sentence_transformers.util.tensor")


@pytest.mark.parametrize("k", [1, 3, 8, 20])
@pytest.mark.parametrize("as_numpy", [False, True])
def test_select_max_active_dims_matches_st(st_tensor, k: int, as_numpy: bool):
    embeddings = torch.randn(4, 8, generator=torch.Generator().manual_seed(k))
    original = embeddings.clone()
    given = embeddings.numpy() if as_numpy else embeddings
    ours = tensor.select_max_active_dims(given, k)
    theirs = st_tensor.select_max_active_dims(given, k)
    torch.testing.assert_close(ours, theirs)
    assert ((ours != 0).sum(dim=-1) == min(k, 8)).all()
    torch.testing.assert_close(embeddings, original)  # input untouched


def test_select_max_active_dims_none_and_invalid():
    embeddings = np.ones((2, 3), dtype=np.float32)
    assert tensor.select_max_active_dims(embeddings, None) is embeddings
    with pytest.raises(ValueError, match="positive integer"):
        tensor.select_max_active_dims(embeddings, 0)


def test_select_max_active_dims_keeps_sign():
    result = tensor.select_max_active_dims(torch.tensor([[0.1, -5.0, 2.0, -0.2]]), 2)
    assert result.tolist() == [[0.0, -5.0, 2.0, 0.0]]


def _flattened_features() -> dict:
    lengths = [3, 1, 4]
    total = sum(lengths)
    cu = torch.tensor([0, 3, 4, 8])
    return {
        "token_embeddings": torch.arange(total * 2, dtype=torch.float32).reshape(1, total, 2) + 1,
        "input_ids": torch.arange(1, total + 1).reshape(1, total),
        "cu_seq_lens_q": cu,
        "cu_seq_lens_k": cu.clone(),
        "max_length_q": 4,
        "max_length_k": 4,
        "position_ids": torch.tensor([[0, 1, 2, 0, 0, 1, 2, 3]]),
        "sentence_embedding": torch.zeros(3, 2),
    }


def test_repad_flattened_features_matches_st(st_tensor):
    ours = tensor.repad_flattened_features(_flattened_features())
    theirs = st_tensor.repad_flattened_features(_flattened_features())
    assert set(ours) == set(theirs) == {"token_embeddings", "input_ids", "attention_mask", "sentence_embedding"}
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key])
    assert ours["token_embeddings"].shape == (3, 4, 2)
    assert ours["attention_mask"].tolist() == [
        [True, True, True, False],
        [True, False, False, False],
        [True, True, True, True],
    ]
    assert ours["input_ids"][1].tolist() == [4, 0, 0, 0]


def test_repad_flattened_features_is_in_place():
    features = _flattened_features()
    assert tensor.repad_flattened_features(features) is features


def _ragged(widths: list[int], batch: int = 2, dim: int = 3) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(sum(widths))
    embeddings = [torch.randn(batch, width, dim, generator=generator) for width in widths]
    masks = [torch.ones(batch, width, dtype=torch.bool) for width in widths]
    return embeddings, masks


@pytest.mark.parametrize("widths", [[4, 4], [2, 5, 3], [1]])
def test_stack_padded_token_embeddings_matches_st(st_tensor, widths: list[int]):
    embeddings, masks = _ragged(widths)
    ours = tensor.stack_padded_token_embeddings(embeddings, masks)
    theirs = st_tensor.stack_padded_token_embeddings(embeddings, masks)
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference)
    assert ours[0].shape == (2, len(widths), max(widths), 3)
    assert ours[1].sum().item() == 2 * sum(widths)


@pytest.mark.parametrize("widths", [[4, 4], [2, 5, 3]])
def test_cat_padded_token_embeddings_matches_st(st_tensor, widths: list[int]):
    embeddings, masks = _ragged(widths)
    ours = tensor.cat_padded_token_embeddings(embeddings, masks)
    theirs = st_tensor.cat_padded_token_embeddings(embeddings, masks)
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference)
    assert ours[0].shape == (2 * len(widths), max(widths), 3)


def test_move_tensors_to_cpu_keeps_structure():
    value = {"a": [torch.ones(2), (torch.zeros(1), "text")], "b": 3}
    moved = tensor._move_tensors_to_cpu(value)
    assert moved["b"] == 3
    assert moved["a"][1][1] == "text"
    assert isinstance(moved["a"][1], tuple)
    assert moved["a"][0].device.type == "cpu"
    torch.testing.assert_close(moved["a"][0], torch.ones(2))


def test_to_scipy_coo_matches_st(st_tensor):
    x = torch.sparse_coo_tensor([[0, 1, 2], [1, 0, 2]], [1.0, 2.0, -3.0], (3, 4))
    ours = tensor.to_scipy_coo(x)
    theirs = st_tensor.to_scipy_coo(x)
    assert ours.shape == theirs.shape == (3, 4)
    np.testing.assert_array_equal(ours.toarray(), theirs.toarray())
    assert ours.toarray()[1, 0] == 2.0


def test_to_scipy_coo_bfloat16():
    x = torch.sparse_coo_tensor([[0], [1]], torch.tensor([1.5], dtype=torch.bfloat16), (1, 2))
    assert tensor.to_scipy_coo(x).toarray().tolist() == [[0.0, 1.5]]


@pytest.mark.parametrize(
    "embeddings",
    [
        torch.tensor([[0.0, 1.0, 0.0, 2.0], [3.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
        torch.tensor([0.0, 1.0, 0.0, 2.0]),
        torch.zeros(2, 5),
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_compute_count_vector_matches_st(st_tensor, embeddings: torch.Tensor, sparse: bool):
    given = embeddings.to_sparse() if sparse else embeddings
    ours = tensor.compute_count_vector(given)
    theirs = st_tensor.compute_count_vector(given)
    assert ours.dtype == torch.int32
    assert ours.tolist() == theirs.tolist() == (embeddings != 0).reshape(-1, embeddings.shape[-1]).sum(0).tolist()


def test_compute_count_vector_rejects_3d():
    with pytest.raises(ValueError, match="3-D"):
        tensor.compute_count_vector(torch.ones(2, 2, 2))
