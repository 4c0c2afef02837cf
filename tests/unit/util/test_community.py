"""community_detection: parity with sentence-transformers 6.2 and the properties its result must have."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedforge import util
from embedforge.util.community import _candidates_looped, _candidates_vectorized


@pytest.fixture(scope="module")
def st_util():
    return pytest.importorskip("sentence_transformers.util")


def _clusters(sizes: list[int], dim: int = 16, noise: float = 0.3, seed: int = 0) -> torch.Tensor:
    """Points scattered around one random center per cluster, shuffled."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((len(sizes), dim))
    groups = [c + noise * rng.standard_normal((size, dim)) for c, size in zip(centers, sizes, strict=True)]
    points = np.concatenate(groups)
    return torch.from_numpy(rng.permutation(points).astype(np.float32))


@pytest.mark.interop
@pytest.mark.parametrize(
    ("sizes", "threshold", "min_community_size", "batch_size"),
    [
        ([30, 20, 12, 5], 0.75, 10, 1024),  # defaults
        ([30, 20, 12, 5], 0.6, 4, 7),  # batches smaller than the input, low threshold: overlapping candidates
        ([120, 15, 3], 0.7, 10, 50),  # a community larger than the first sort window (50) forces it to grow
        ([8, 8, 8], 0.9, 1, 5),  # min size 1: singletons count
        ([6, 4], 0.75, 20, 1024),  # min size larger than the input
        ([40, 25], 0.99, 10, 16),  # threshold too high: no community
    ],
)
def test_community_detection_matches_st(st_util, sizes, threshold, min_community_size, batch_size) -> None:
    embeddings = _clusters(sizes, seed=len(sizes))
    kwargs = {"threshold": threshold, "min_community_size": min_community_size, "batch_size": batch_size}
    ours = util.community_detection(embeddings, **kwargs)
    assert ours == st_util.community_detection(embeddings, **kwargs)
    assert ours == util.community_detection(embeddings.numpy(), **kwargs)


@pytest.mark.interop
def test_ties_are_handled_like_st(st_util) -> None:
    base = _clusters([6, 5], seed=3)
    embeddings = torch.cat([base, base, base[:4]])  # exact duplicates: tied scores everywhere
    for min_size, batch_size in ((3, 1024), (5, 4), (2, 7)):
        kwargs = {"threshold": 0.8, "min_community_size": min_size, "batch_size": batch_size}
        assert util.community_detection(embeddings, **kwargs) == st_util.community_detection(embeddings, **kwargs)


def test_communities_satisfy_their_definition() -> None:
    embeddings = _clusters([40, 25, 14, 6], seed=4)
    threshold, min_size = 0.7, 5
    communities = util.community_detection(embeddings, threshold=threshold, min_community_size=min_size, batch_size=9)
    assert communities, "the clustered data should form communities"
    normalized = torch.nn.functional.normalize(embeddings, dim=1)
    seen: set[int] = set()
    for community in communities:
        assert len(community) >= min_size
        assert not seen & set(community), "communities must be disjoint"
        seen |= set(community)
        center, *members = community
        scores = (normalized[members] @ normalized[center]).tolist()
        assert all(score >= threshold - 1e-6 for score in scores)
        assert scores == sorted(scores, reverse=True)
    assert [len(c) for c in communities] == sorted((len(c) for c in communities), reverse=True)


def test_vectorized_and_looped_candidates_agree() -> None:
    """The GPU path (vectorized) and the CPU path (looped) must find the same candidate communities."""
    embeddings = torch.nn.functional.normalize(_clusters([70, 20, 9], seed=5), dim=1)
    threshold = torch.tensor(0.7)
    for start in (0, 40):
        scores = embeddings[start : start + 40] @ embeddings.T
        vectorized = _candidates_vectorized(scores, start, threshold, 5)
        looped, _ = _candidates_looped(scores, start, threshold, 5, sort_max_size=50)
        assert [center for center, _ in vectorized] == [center for center, _ in looped]
        for (_, ours), (_, theirs) in zip(vectorized, looped, strict=True):
            assert set(ours.tolist()) == set(theirs.tolist())


def test_degenerate_inputs() -> None:
    assert util.community_detection(torch.empty(0, 4)) == []
    assert util.community_detection([]) == []
    assert util.community_detection(_clusters([3]), min_community_size=10) == []
    assert util.community_detection(torch.ones(4), min_community_size=1) == [[0]]
    with pytest.raises(ValueError, match="min_community_size must be at least 1"):
        util.community_detection(_clusters([3]), min_community_size=0)
