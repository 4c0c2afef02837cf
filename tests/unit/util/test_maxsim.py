"""MaxSim family: parity with sentence-transformers 6.2 on random tensors, ragged lists and masks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from embedforge.util import SimilarityFunction, maxsim, maxsim_pairwise, mean_maxsim, mean_maxsim_pairwise


@pytest.fixture(scope="module")
def st_util():
    return pytest.importorskip("sentence_transformers.util")


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _masks(batch: int, tokens: int, seed: int) -> torch.Tensor:
    mask = torch.rand(batch, tokens, generator=torch.Generator().manual_seed(seed)) > 0.3
    mask[:, 0] = True
    return mask


def _reference(q: torch.Tensor, d: torch.Tensor, q_mask: torch.Tensor, d_mask: torch.Tensor) -> float:
    """Direct MaxSim of one query and one document, by loops over real tokens."""
    q_real, d_real = q[q_mask.bool()], d[d_mask.bool()]
    return sum(max(float(qi @ dj) for dj in d_real) for qi in q_real)


FUNCTIONS = ["maxsim", "mean_maxsim"]
PAIRWISE = ["maxsim_pairwise", "mean_maxsim_pairwise"]
OURS = {
    "maxsim": maxsim,
    "mean_maxsim": mean_maxsim,
    "maxsim_pairwise": maxsim_pairwise,
    "mean_maxsim_pairwise": mean_maxsim_pairwise,
}


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("chunk_elements", [None, 40, 1])
@pytest.mark.parametrize("with_masks", [False, True])
def test_padded_tensors_match_st(st_util, name: str, chunk_elements: int | None, with_masks: bool):
    a, b = _rand(3, 5, 8, seed=1), _rand(4, 7, 8, seed=2)
    kwargs = {"chunk_elements": chunk_elements}
    if with_masks:
        kwargs |= {"a_mask": _masks(3, 5, seed=3), "b_mask": _masks(4, 7, seed=4)}
    ours = OURS[name](a, b, **kwargs)
    theirs = getattr(st_util, name)(a, b, **kwargs)
    assert ours.shape == (3, 4)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("name", PAIRWISE)
@pytest.mark.parametrize("chunk_elements", [None, 30])
@pytest.mark.parametrize("with_masks", [False, True])
def test_pairwise_matches_st(st_util, name: str, chunk_elements: int | None, with_masks: bool):
    a, b = _rand(4, 5, 8, seed=5), _rand(4, 6, 8, seed=6)
    kwargs = {"chunk_elements": chunk_elements}
    if with_masks:
        kwargs |= {"a_mask": _masks(4, 5, seed=7), "b_mask": _masks(4, 6, seed=8)}
    ours = OURS[name](a, b, **kwargs)
    torch.testing.assert_close(ours, getattr(st_util, name)(a, b, **kwargs))
    assert ours.shape == (4,)


def test_masked_scores_equal_direct_formula():
    a, b = _rand(2, 4, 3, seed=9), _rand(3, 5, 3, seed=10)
    a_mask, b_mask = _masks(2, 4, seed=11), _masks(3, 5, seed=12)
    scores = maxsim(a, b, a_mask, b_mask)
    for i in range(2):
        for j in range(3):
            assert scores[i, j].item() == pytest.approx(_reference(a[i], b[j], a_mask[i], b_mask[j]), abs=1e-5)
    normalized = mean_maxsim(a, b, a_mask, b_mask)
    torch.testing.assert_close(normalized, scores / a_mask.sum(-1, keepdim=True).float())


@pytest.mark.parametrize("name", FUNCTIONS + PAIRWISE)
def test_ragged_lists_and_list_masks_match_st(st_util, name: str):
    a = [_rand(n, 6, seed=n) for n in (2, 5, 3)]
    b = [_rand(n, 6, seed=10 + n) for n in (2, 6, 4)]
    ours = OURS[name](a, b, chunk_elements=50)
    torch.testing.assert_close(ours, getattr(st_util, name)(a, b, chunk_elements=50))
    a_masks = [torch.ones(len(item), dtype=torch.bool) for item in a]
    a_masks[1][3:] = False
    with_masks = OURS[name](a, b, a_mask=a_masks)
    torch.testing.assert_close(with_masks, getattr(st_util, name)(a, b, a_mask=a_masks))


def test_numpy_single_item_and_quantized_inputs_match_st(st_util):
    query = _rand(4, 6, seed=20).numpy()
    documents = _rand(3, 5, 6, seed=21).numpy()
    torch.testing.assert_close(maxsim(query, documents), st_util.maxsim(query, documents))
    assert maxsim(query, documents).shape == (1, 3)
    quantized = [np.array([[1, -2], [3, 0]], dtype=np.int8), np.array([[0, 1]], dtype=np.int8)]
    torch.testing.assert_close(maxsim(quantized, quantized), st_util.maxsim(quantized, quantized))


def test_zero_rows_of_padded_tensors_are_padding(st_util):
    documents = torch.tensor([[[-1.0, 0.0], [0.0, 0.0]]])  # second token is padding
    query = torch.tensor([[[1.0, 0.0]]])
    assert maxsim(query, documents).item() == -1.0
    torch.testing.assert_close(maxsim(query, documents), st_util.maxsim(query, documents))


def test_half_precision_accumulates_in_float32(st_util):
    a, b = _rand(2, 4, 8, seed=30).half(), _rand(3, 4, 8, seed=31).half()
    ours = maxsim(a, b)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, st_util.maxsim(a, b))


def test_empty_document_scores_far_below(st_util, caplog: pytest.LogCaptureFixture):
    a, b = _rand(2, 3, 4, seed=40), _rand(3, 5, 4, seed=41)
    b_mask = torch.ones(3, 5, dtype=torch.bool)
    b_mask[1] = False
    with caplog.at_level(logging.WARNING):
        ours = maxsim(a, b, b_mask=b_mask)
    torch.testing.assert_close(ours, st_util.maxsim(a, b, b_mask=b_mask))
    assert (ours[:, 1] == -1e9).all()
    pairwise = maxsim_pairwise(a, b[:2], b_mask=b_mask[:2])
    assert pairwise[1].item() == -1e9


def test_empty_inputs():
    assert maxsim([], [_rand(2, 3, seed=1)]).shape == (0, 1)
    assert maxsim_pairwise([], []).shape == (0,)


def test_errors():
    a, b = _rand(2, 3, 4, seed=1), _rand(3, 3, 4, seed=2)
    with pytest.raises(ValueError, match="same number|as many items"):
        maxsim_pairwise(a, b)
    with pytest.raises(ValueError, match="covers 2 tokens"):
        maxsim(a, b, a_mask=torch.ones(2, 2))
    with pytest.raises(TypeError, match="a_mask"):
        maxsim(a, b, a_mask="mask")


def test_device_argument_keeps_result_on_document_device():
    a, b = _rand(2, 3, 4, seed=1), _rand(3, 3, 4, seed=2)
    result = maxsim(a, b, device="cpu")
    assert result.device.type == "cpu"
    torch.testing.assert_close(result, maxsim(a, b))


def test_similarity_function_keeps_single_vector_names(st_util):
    # embedforge has no multi-vector model family, so the enum lists ST's names minus the MaxSim ones.
    theirs = [name for name in st_util.SimilarityFunction.possible_values() if "maxsim" not in name]
    assert SimilarityFunction.possible_values() == theirs
