"""semantic_search: parity with sentence-transformers 6.2 (chunking, ties, top_k) and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedforge import util


@pytest.fixture(scope="module")
def st_util():
    return pytest.importorskip("sentence_transformers.util")


def _random(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _brute_force(queries: np.ndarray, corpus: np.ndarray, top_k: int) -> list[list[int]]:
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    scores = q @ c.T
    return [list(np.argsort(-row, kind="stable")[:top_k]) for row in scores]


@pytest.mark.interop
@pytest.mark.parametrize(
    ("n_queries", "n_corpus", "query_chunk_size", "corpus_chunk_size", "top_k"),
    [
        (5, 40, 100, 500000, 10),  # defaults, one chunk each
        (13, 57, 4, 10, 7),  # chunks smaller than the inputs, uneven last chunks
        (3, 6, 2, 4, 10),  # top_k larger than the corpus
        (1, 25, 1, 1, 3),  # one corpus row per chunk
        (4, 30, 100, 500000, 0),  # top_k of zero
    ],
)
@pytest.mark.parametrize("score", ["cos_sim", "dot_score", "manhattan_sim"])
def test_semantic_search_matches_st(st_util, n_queries, n_corpus, query_chunk_size, corpus_chunk_size, top_k, score):
    queries, corpus = _random((n_queries, 16), 0), _random((n_corpus, 16), 1)
    kwargs = {"query_chunk_size": query_chunk_size, "corpus_chunk_size": corpus_chunk_size, "top_k": top_k}
    ours = util.semantic_search(queries, corpus, score_function=getattr(util, score), **kwargs)
    theirs = st_util.semantic_search(queries, corpus, score_function=getattr(st_util, score), **kwargs)
    assert ours == theirs
    assert all(len(hits) == min(top_k, n_corpus) for hits in ours)


@pytest.mark.interop
def test_ties_are_ordered_like_st(st_util) -> None:
    base = _random((4, 8), 2)
    corpus = torch.cat([base, base, base[:2], base]).contiguous()  # every score appears 3-4 times
    queries = torch.cat([base[:3], _random((2, 8), 3)])
    for chunk in (3, 5, 500000):
        kwargs = {"query_chunk_size": 2, "corpus_chunk_size": chunk, "top_k": 6}
        ours = util.semantic_search(queries, corpus, **kwargs)
        assert ours == st_util.semantic_search(queries, corpus, **kwargs)
        assert ours[0][0]["score"] == pytest.approx(1.0)


@pytest.mark.interop
def test_inputs_of_other_kinds_match_st(st_util) -> None:
    queries, corpus = _random((6,), 4), _random((20, 6), 5)  # a single 1-D query
    assert util.semantic_search(queries, corpus, top_k=4) == st_util.semantic_search(queries, corpus, top_k=4)
    q_np, c_np = _random((3, 6), 6).numpy(), corpus.numpy()
    assert util.semantic_search(q_np, c_np, top_k=4) == st_util.semantic_search(q_np, c_np, top_k=4)


@pytest.mark.interop
def test_sparse_inputs_match_st(st_util) -> None:
    queries = _random((5, 30), 7).relu().to_sparse()
    corpus = _random((22, 30), 8).relu().to_sparse()
    kwargs = {"query_chunk_size": 2, "corpus_chunk_size": 7, "top_k": 5}
    ours = util.semantic_search(queries, corpus, **kwargs)
    theirs = st_util.semantic_search(queries, corpus, **kwargs)

    def ids(results):
        return [[hit["corpus_id"] for hit in hits] for hits in results]

    assert ids(ours) == ids(theirs)
    for our_hits, their_hits in zip(ours, theirs, strict=True):
        np.testing.assert_allclose([h["score"] for h in our_hits], [h["score"] for h in their_hits], rtol=1e-6)


def test_semantic_search_matches_brute_force() -> None:
    queries, corpus = _random((9, 12), 9), _random((70, 12), 10)
    hits = util.semantic_search(queries, corpus, query_chunk_size=4, corpus_chunk_size=16, top_k=8)
    assert [[hit["corpus_id"] for hit in row] for row in hits] == _brute_force(queries.numpy(), corpus.numpy(), 8)
    for row in hits:
        scores = [hit["score"] for hit in row]
        assert scores == sorted(scores, reverse=True)
        assert all(isinstance(hit["corpus_id"], int) and isinstance(hit["score"], float) for hit in row)


def test_empty_corpus_and_alias() -> None:
    assert util.semantic_search(_random((2, 4), 11), torch.empty(0, 4)) == [[], []]
    assert util.information_retrieval is util.semantic_search
