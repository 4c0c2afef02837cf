"""Paraphrase mining: parity with sentence-transformers 6.2 and a brute-force all-pairs reference."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch

from embedforge import util


@pytest.fixture(scope="module")
def st_util():
    return pytest.importorskip("sentence_transformers.util")


def _random(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


class FixedEncoder:
    """A minimal model satisfying ``SupportsEncode``: one fixed embedding per known sentence."""

    def __init__(self, table: dict[str, torch.Tensor]) -> None:
        self.table = table
        self.calls: list[dict[str, object]] = []

    def encode(
        self,
        sentences: list[str],
        /,
        *,
        show_progress_bar: bool,
        batch_size: int,
        convert_to_tensor: bool,
        truncate_dim: int | None,
        prompt_name: str | None,
        prompt: str | None,
    ) -> torch.Tensor:
        self.calls.append({"batch_size": batch_size, "convert_to_tensor": convert_to_tensor, "prompt": prompt})
        return util.truncate_embeddings(torch.stack([self.table[s] for s in sentences]), truncate_dim)


@pytest.mark.interop
@pytest.mark.parametrize(
    ("n", "query_chunk_size", "corpus_chunk_size", "max_pairs", "top_k"),
    [
        (30, 5000, 100000, 500000, 100),  # defaults: every pair of a small set
        (41, 6, 9, 500000, 5),  # chunks smaller than the input
        (41, 7, 5, 20, 4),  # max_pairs forces evictions from the heap
        (25, 3, 4, 1, 1),  # a single pair
        (12, 5, 5, 500000, 30),  # top_k larger than the input
    ],
)
@pytest.mark.parametrize("score", ["cos_sim", "dot_score"])
def test_paraphrase_mining_embeddings_matches_st(
    st_util, n, query_chunk_size, corpus_chunk_size, max_pairs, top_k, score
) -> None:
    embeddings = _random((n, 8), n)
    kwargs = {
        "query_chunk_size": query_chunk_size,
        "corpus_chunk_size": corpus_chunk_size,
        "max_pairs": max_pairs,
        "top_k": top_k,
    }
    ours = util.paraphrase_mining_embeddings(embeddings, score_function=getattr(util, score), **kwargs)
    theirs = st_util.paraphrase_mining_embeddings(embeddings, score_function=getattr(st_util, score), **kwargs)
    assert ours == theirs
    assert len(ours) <= max_pairs


@pytest.mark.interop
def test_ties_are_handled_like_st(st_util) -> None:
    base = _random((5, 6), 1)
    embeddings = torch.cat([base, base, base[:3]])  # many pairs with identical scores (exact duplicates score 1)
    for max_pairs, top_k, chunk in ((500000, 100, 100000), (6, 3, 4), (10, 2, 3)):
        kwargs = {"max_pairs": max_pairs, "top_k": top_k, "query_chunk_size": chunk, "corpus_chunk_size": chunk}
        ours = util.paraphrase_mining_embeddings(embeddings, **kwargs)
        assert ours == st_util.paraphrase_mining_embeddings(embeddings, **kwargs)


@pytest.mark.interop
def test_paraphrase_mining_with_an_st_model_matches_st(st_util, tiny_bert_path: Path, sentences: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    kwargs = {"batch_size": 3, "query_chunk_size": 3, "corpus_chunk_size": 4, "max_pairs": 10, "top_k": 3}
    ours = util.paraphrase_mining(model, sentences, **kwargs)
    assert ours == st_util.paraphrase_mining(model, sentences, **kwargs)
    assert util.paraphrase_mining(model, sentences, truncate_dim=8) == st_util.paraphrase_mining(
        model, sentences, truncate_dim=8
    )


def test_matches_brute_force_all_pairs() -> None:
    embeddings = _random((15, 10), 2)
    normalized = embeddings / embeddings.norm(dim=1, keepdim=True)
    expected = sorted(
        ((float(normalized[i] @ normalized[j]), i, j) for i, j in combinations(range(15), 2)), reverse=True
    )[:12]
    pairs = util.paraphrase_mining_embeddings(embeddings, max_pairs=12, query_chunk_size=4, corpus_chunk_size=6)
    assert [(i, j) for _, i, j in pairs] == [(i, j) for _, i, j in expected]
    np.testing.assert_allclose([score for score, _, _ in pairs], [score for score, _, _ in expected], rtol=1e-5)
    assert all(i < j for _, i, j in pairs)


def test_paraphrase_mining_accepts_any_model_with_encode() -> None:
    table = {"a": torch.tensor([1.0, 0.0, 5.0]), "b": torch.tensor([0.0, 1.0, 0.0]), "c": torch.tensor([1.0, 0.1, 0.0])}
    model = FixedEncoder(table)
    assert [pair[1:] for pair in util.paraphrase_mining(model, ["a", "b", "c"], truncate_dim=2)] == [
        [0, 2],
        [1, 2],
        [0, 1],
    ]
    assert model.calls == [{"batch_size": 32, "convert_to_tensor": True, "prompt": None}]


def test_degenerate_inputs() -> None:
    assert util.paraphrase_mining_embeddings(torch.empty(0, 4)) == []
    assert util.paraphrase_mining_embeddings(_random((1, 4), 3)) == []
    assert util.paraphrase_mining_embeddings(_random((5, 4), 4), max_pairs=0) == []
