"""Embedding quantization and quantized search: parity with sentence-transformers 6.2 and direct formulas."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from embedforge import quantization
from embedforge.quantization import quantize_embeddings
from embedforge.util._quantized_search import QueryPlan, plan_queries
from embedforge.util.quantization import _dequantize_embeddings

PRECISIONS = ["float32", "int8", "uint8", "binary", "ubinary"]


@pytest.fixture(scope="module")
def st_quantization():
    return pytest.importorskip("sentence_transformers.util.quantization")


def _random(shape: tuple[int, ...], seed: int, dtype: type = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


# ---- quantize_embeddings: parity ------------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("shape", [(120, 16), (7, 13), (2, 1)])
@pytest.mark.parametrize("kind", ["numpy", "torch", "list", "float64", "float16"])
def test_quantize_embeddings_matches_st(st_quantization, precision, shape, kind) -> None:
    array = _random(shape, 0)
    embeddings = {
        "numpy": array,
        "torch": torch.from_numpy(array),
        "list": list(array),
        "float64": array.astype(np.float64),
        "float16": array.astype(np.float16),
    }[kind]
    ours = quantize_embeddings(embeddings, precision)
    _assert_same(ours, st_quantization.quantize_embeddings(embeddings, precision))


@pytest.mark.interop
@pytest.mark.parametrize("precision", ["int8", "uint8"])
def test_ranges_and_calibration_match_st(st_quantization, precision) -> None:
    embeddings, calibration = _random((10, 12), 1), _random((300, 12), 2)
    ranges = np.vstack([calibration.min(0), calibration.max(0)])
    ranges[:, 3] = 0.25  # a constant dimension: zero-width buckets
    for kwargs in ({"ranges": ranges}, {"calibration_embeddings": calibration}):
        ours = quantize_embeddings(embeddings, precision, **kwargs)
        _assert_same(ours, st_quantization.quantize_embeddings(embeddings, precision, **kwargs))
    single = _random((12,), 3)  # one embedding: fine with explicit ranges
    _assert_same(
        quantize_embeddings(single, precision, ranges=ranges),
        st_quantization.quantize_embeddings(single, precision, ranges=ranges),
    )


@pytest.mark.interop
@pytest.mark.parametrize("precision", PRECISIONS)
def test_multi_vector_lists_match_st(st_quantization, precision) -> None:
    matrices = [_random((n, 10), n) for n in (3, 7, 1)] + [np.zeros((0, 10), dtype=np.float32)]
    for embeddings in (matrices, [torch.from_numpy(m) for m in matrices]):
        ours = quantize_embeddings(embeddings, precision)
        theirs = st_quantization.quantize_embeddings(embeddings, precision)
        assert len(ours) == len(theirs) == 4
        for our_matrix, their_matrix in zip(ours, theirs, strict=True):
            _assert_same(our_matrix, their_matrix)
    assert quantize_embeddings([], precision) == []


@pytest.mark.interop
def test_bfloat16_tensors_match_st(st_quantization) -> None:
    embeddings = torch.from_numpy(_random((30, 9), 4)).to(torch.bfloat16)
    for precision in PRECISIONS:
        _assert_same(
            quantize_embeddings(embeddings, precision), st_quantization.quantize_embeddings(embeddings, precision)
        )


@pytest.mark.interop
def test_dequantize_matches_st(st_quantization) -> None:
    embeddings = _random((50, 8), 5)
    ranges = np.vstack([embeddings.min(0), embeddings.max(0)])
    for precision in ("int8", "uint8"):
        quantized = quantize_embeddings(embeddings, precision, ranges=ranges)
        np.testing.assert_array_equal(
            _dequantize_embeddings(quantized, precision, ranges),
            st_quantization._dequantize_embeddings(quantized, precision, ranges),
        )


# ---- quantize_embeddings: formulas and errors -----------------------------------------------------------------


def test_binary_formulas() -> None:
    embeddings = _random((6, 19), 6)
    bits = embeddings > 0
    ubinary = quantize_embeddings(embeddings, "ubinary")
    assert ubinary.shape == (6, 3)
    np.testing.assert_array_equal(np.unpackbits(ubinary, axis=1)[:, :19], bits)
    binary = quantize_embeddings(embeddings, "binary")
    assert binary.dtype == np.int8
    np.testing.assert_array_equal(binary.astype(int), ubinary.astype(int) - 128)
    np.testing.assert_array_equal(quantize_embeddings(np.array([[0.5, -1.0, 2.0]]), "ubinary"), [[0b10100000]])


def test_scalar_formulas() -> None:
    embeddings = _random((200, 5), 7)
    low, high = embeddings.min(0), embeddings.max(0)
    expected = np.clip(np.floor((embeddings - low) / ((high - low) / 255)), 0, 255)
    uint8 = quantize_embeddings(embeddings, "uint8")
    assert uint8.dtype == np.uint8
    np.testing.assert_array_equal(uint8, expected)
    np.testing.assert_array_equal(quantize_embeddings(embeddings, "int8").astype(int), expected - 128)
    assert uint8.min() == 0 and uint8.max() == 255
    restored = _dequantize_embeddings(uint8, "uint8", np.vstack([low, high]))
    assert np.all(np.abs(restored - embeddings) <= (high - low) / 255 + 1e-6)


def test_float32_is_a_cast() -> None:
    embeddings = _random((3, 4), 8, dtype=np.float64)
    result = quantize_embeddings(torch.from_numpy(embeddings).requires_grad_(), "float32")
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, embeddings, rtol=1e-6)


def test_errors_say_what_and_how() -> None:
    with pytest.raises(ValueError, match=r"unknown precision 'int4'.*'int8'"):
        quantize_embeddings(_random((3, 4), 9), "int4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be floats, got dtype int8"):
        quantize_embeddings(np.zeros((3, 4), dtype=np.int8), "binary")
    with pytest.raises(ValueError, match="single embedding.*calibration_embeddings"):
        quantize_embeddings(_random((1, 4), 10), "int8")


# ---- quantized search helpers (no backend needed) -------------------------------------------------------------


def _plan(queries: np.ndarray, precision: str, **overrides) -> QueryPlan:
    settings = {
        "corpus_precision": precision,
        "corpus_is_quantized": precision != "float32",
        "rescore": True,
        "rescore_multiplier": 3,
        "top_k": 4,
        "ranges": None,
        "calibration_embeddings": None,
    }
    return plan_queries(queries, **{**settings, **overrides})


def test_plan_quantizes_queries_and_keeps_floats_for_rescoring() -> None:
    queries, calibration = _random((4, 16), 11), _random((150, 16), 12)
    plan = _plan(queries, "uint8", calibration_embeddings=calibration)
    np.testing.assert_array_equal(plan.ranges, np.vstack([calibration.min(0), calibration.max(0)]))
    np.testing.assert_array_equal(plan.search_queries, quantize_embeddings(queries, "uint8", ranges=plan.ranges))
    assert plan.rescore_queries is queries
    assert plan.fetch_k == 12


def test_plan_without_rescoring() -> None:
    queries = _random((4, 16), 13)
    plan = _plan(queries, "float32")  # float corpus: nothing to rescore
    assert plan.rescore_queries is None and plan.fetch_k == 4 and plan.search_queries.dtype == np.float32
    plan = _plan(queries, "ubinary", rescore=False)
    assert plan.rescore_queries is None and plan.fetch_k == 4
    quantized = quantize_embeddings(queries, "ubinary")
    plan = _plan(quantized, "ubinary")  # quantized queries cannot be rescored
    assert plan.search_queries is quantized and plan.rescore_queries is None


@pytest.mark.parametrize("precision", ["ubinary", "binary", "uint8", "int8"])
def test_rescore_ranks_by_float_dot_product_and_drops_padding(precision) -> None:
    queries, corpus = _random((2, 12), 14), _random((6, 12), 15)
    plan = _plan(queries, precision, calibration_embeddings=corpus, top_k=5)
    stored = quantize_embeddings(corpus, precision, ranges=plan.ranges)
    if precision == "binary":  # indexes store binary corpora as the raw ubinary bytes
        stored = stored.view(np.uint8) ^ 0x80
    indices = np.array([[0, 1, 2, 3, -1], [5, 4, 3, 2, 1]])
    valid = indices != -1
    new_indices, scores, new_valid = plan.rescore(stored[np.where(valid, indices, 0)], indices, valid)
    if precision in ("ubinary", "binary"):
        restored = np.unpackbits(stored, axis=1)[:, :12].astype(float)
    else:
        restored = _dequantize_embeddings(stored, precision, plan.ranges)
    for row in range(2):
        real = indices[row][valid[row]]
        expected = real[np.argsort(-(restored[real] @ queries[row]), kind="stable")]
        np.testing.assert_array_equal(new_indices[row][new_valid[row]], expected)
        assert list(scores[row]) == sorted(scores[row], reverse=True)
    assert new_indices[0][-1] == -1 and scores[0][-1] == -np.inf


# ---- FAISS / USearch ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "module", "package"),
    [("semantic_search_faiss", "faiss", "faiss-cpu"), ("semantic_search_usearch", "usearch", "usearch")],
)
def test_missing_backend_names_the_package_to_install(function, module, package) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed")
    with pytest.raises(ImportError, match=f"pip install {package}"):
        getattr(quantization, function)(_random((2, 8), 15), corpus_embeddings=_random((5, 8), 16))


@pytest.mark.parametrize("function", ["semantic_search_faiss", "semantic_search_usearch"])
def test_search_argument_errors_name_the_function_and_the_fix(function) -> None:
    search = getattr(quantization, function)
    queries, corpus = _random((2, 8), 16), _random((5, 8), 17)
    with pytest.raises(ValueError, match=f"{function}: got both"):
        search(queries, corpus_embeddings=corpus, corpus_index=object())
    with pytest.raises(ValueError, match=f"{function}: got neither"):
        search(queries)
    with pytest.raises(ValueError, match=r"corpus_precision must be one of .*'float16'.*quantize_embeddings"):
        search(queries, corpus_embeddings=corpus, corpus_precision="float16")


def _corpus_for(precision: str, corpus: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    return quantize_embeddings(corpus, precision, calibration_embeddings=calibration)  # type: ignore[arg-type]


def _assert_hits_equal(ours: list, theirs: list) -> None:
    assert [[h["corpus_id"] for h in row] for row in ours] == [[h["corpus_id"] for h in row] for row in theirs]
    for our_row, their_row in zip(ours, theirs, strict=True):
        np.testing.assert_allclose([h["score"] for h in our_row], [h["score"] for h in their_row], rtol=1e-5)


@pytest.mark.interop
@pytest.mark.parametrize("precision", ["float32", "uint8", "ubinary"])
@pytest.mark.parametrize("top_k", [3, 50])
def test_semantic_search_faiss_matches_st(st_quantization, precision, top_k) -> None:
    pytest.importorskip("faiss")
    queries, corpus, calibration = _random((5, 16), 17), _random((40, 16), 18), _random((200, 16), 19)
    kwargs = {
        "corpus_embeddings": _corpus_for(precision, corpus, calibration),
        "corpus_precision": precision,
        "top_k": top_k,
        "calibration_embeddings": calibration,
    }
    ours, _ = quantization.semantic_search_faiss(queries, **kwargs)
    theirs, _ = st_quantization.semantic_search_faiss(queries, **kwargs)
    _assert_hits_equal(ours, theirs)
    _, _, index = quantization.semantic_search_faiss(queries, **kwargs, output_index=True)
    assert index.ntotal == 40


@pytest.mark.interop
@pytest.mark.parametrize("precision", ["float32", "int8", "ubinary", "binary"])
@pytest.mark.parametrize("top_k", [3, 50])
def test_semantic_search_usearch_matches_st(st_quantization, precision, top_k) -> None:
    pytest.importorskip("usearch")
    queries, corpus, calibration = _random((5, 16), 20), _random((40, 16), 21), _random((200, 16), 22)
    kwargs = {
        "corpus_embeddings": _corpus_for(precision, corpus, calibration),
        "corpus_precision": precision,
        "top_k": top_k,
        "calibration_embeddings": calibration,
    }
    ours, _ = quantization.semantic_search_usearch(queries, **kwargs)
    theirs, _ = st_quantization.semantic_search_usearch(queries, **kwargs)
    _assert_hits_equal(ours, theirs)


@pytest.mark.interop
@pytest.mark.parametrize("name", ["quantize_embeddings", "semantic_search_faiss", "semantic_search_usearch"])
def test_public_signatures_match_st(st_quantization, name) -> None:
    import inspect

    def signature(function) -> list[tuple[str, object]]:
        return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]

    assert signature(getattr(quantization, name)) == signature(getattr(st_quantization, name))
