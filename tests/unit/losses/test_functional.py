"""The functional losses against formulas written out here, on hand-made embeddings (NumPy / plain loops)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from embedforge.losses import functional as F
from embedforge.util import dot_score, pairwise_dot_score
from helpers import SameDtypeMSE

RNG = np.random.default_rng(0)
BATCH, DIM = 5, 6


def _embeddings(columns: int) -> list[np.ndarray]:
    return [RNG.normal(size=(BATCH, DIM)) for _ in range(columns)]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _reference_mnrl(
    q: np.ndarray,
    docs: list[np.ndarray],
    scale: float,
    directions: tuple[str, ...],
    partition_mode: str,
    hardness_mode: str | None,
    alpha: float,
) -> float:
    """Per example: candidate lists of each direction, then -log softmax of the positive."""
    n = len(q)
    losses = []
    for i in range(n):
        terms: dict[str, list[float]] = {}
        q2d = []
        for column, block in enumerate(docs):
            for j in range(n):
                sim = _cos(q[i], block[j])
                own = j == i
                positive = own and column == 0
                penalized = {
                    None: False,
                    "in_batch_negatives": not own,
                    "hard_negatives": own and column > 0,
                    "all_negatives": not positive,
                }[hardness_mode]
                q2d.append(scale * sim + (alpha * sim if penalized else 0.0))
        terms["query_to_doc"] = q2d
        if "query_to_query" in directions:
            terms["query_to_query"] = [scale * _cos(q[i], q[j]) for j in range(n) if j != i]
        if "doc_to_query" in directions:
            terms["doc_to_query"] = [scale * _cos(q[j], docs[0][i]) for j in range(n)]
        if "doc_to_doc" in directions:
            terms["doc_to_doc"] = [scale * _cos(block[j], docs[0][i]) for block in docs for j in range(n) if j != i]
        positive_logit = scale * _cos(q[i], docs[0][i])
        if partition_mode == "joint":
            log_z = _logsumexp([v for values in terms.values() for v in values])
        else:
            log_z = sum(_logsumexp(values) for values in terms.values()) / len(terms)
        losses.append(log_z - positive_logit)
    return float(np.mean(losses))


MNRL_CASES = [
    (1, ("query_to_doc",), "joint", None, 0.0),
    (2, ("query_to_doc",), "joint", None, 0.0),
    (3, ("query_to_doc",), "joint", None, 0.0),
    (2, F.DIRECTIONS, "joint", None, 0.0),
    (3, ("query_to_doc", "query_to_query"), "joint", None, 0.0),
    (3, ("query_to_doc", "doc_to_doc"), "joint", None, 0.0),
    (2, ("query_to_doc", "doc_to_query"), "per_direction", None, 0.0),
    (3, ("query_to_doc", "doc_to_query"), "per_direction", None, 0.0),
    (1, ("query_to_doc",), "joint", "in_batch_negatives", 9.0),
    (3, ("query_to_doc",), "joint", "in_batch_negatives", 9.0),
    (3, ("query_to_doc",), "joint", "hard_negatives", 5.0),
    (3, ("query_to_doc",), "joint", "all_negatives", 2.0),
    (3, F.DIRECTIONS, "joint", "all_negatives", 2.0),
]


@pytest.mark.parametrize(("num_docs", "directions", "partition_mode", "hardness_mode", "alpha"), MNRL_CASES)
def test_mnrl_matches_reference(
    num_docs: int, directions: tuple[str, ...], partition_mode: str, hardness_mode: str | None, alpha: float
) -> None:
    q, *docs = _embeddings(1 + num_docs)
    expected = _reference_mnrl(q, docs, 7.0, directions, partition_mode, hardness_mode, alpha)
    value = F.multiple_negatives_ranking_loss(
        torch.tensor(q),
        [torch.tensor(d) for d in docs],
        scale=7.0,
        directions=directions,
        partition_mode=partition_mode,
        hardness_mode=hardness_mode,
        hardness_strength=alpha,
    )
    assert value.item() == pytest.approx(expected, abs=1e-9)


def test_mnrl_default_is_cross_entropy_of_the_diagonal() -> None:
    q, p = (torch.tensor(x) for x in _embeddings(2))
    logits = 20.0 * (q / q.norm(dim=1, keepdim=True)) @ (p / p.norm(dim=1, keepdim=True)).T
    expected = nn.functional.cross_entropy(logits, torch.arange(BATCH))
    assert F.multiple_negatives_ranking_loss(q, [p]).item() == pytest.approx(expected.item(), abs=1e-9)


def test_mnrl_with_dot_product() -> None:
    q, p, n = _embeddings(3)
    scores = np.concatenate([q @ p.T, q @ n.T], axis=1) * 0.5
    expected = np.mean([_logsumexp(list(row)) - row[i] for i, row in enumerate(scores)])
    value = F.multiple_negatives_ranking_loss(
        torch.tensor(q), [torch.tensor(p), torch.tensor(n)], scale=0.5, similarity_fct=dot_score
    )
    assert value.item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("directions", [("query_to_doc",), F.DIRECTIONS])
def test_mnrl_local_rows_are_the_rows_of_the_full_loss(directions: tuple[str, ...]) -> None:
    """What a rank computes after a gather: the mean over its rows of the per-example losses of the whole batch."""
    q, p, n = (torch.tensor(x) for x in _embeddings(3))
    kwargs = {"directions": directions, "hardness_mode": "all_negatives", "hardness_strength": 1.0}
    full = F.multiple_negatives_ranking_loss(q, [p, n], **kwargs)
    first = F.multiple_negatives_ranking_loss(q, [p, n], offset=0, batch_size=2, **kwargs)
    rest = F.multiple_negatives_ranking_loss(q, [p, n], offset=2, **kwargs)
    assert full.item() == pytest.approx((2 * first.item() + 3 * rest.item()) / BATCH, abs=1e-9)
    logits, labels = F.ranking_logits(q, [p, n], offset=2, batch_size=2, **kwargs)
    assert labels.tolist() == [2, 3]
    assert logits["query_to_doc"].shape == (2, 2 * BATCH)
    assert list(logits) == list(directions)
    if "query_to_query" in logits:
        assert logits["query_to_query"].shape == (2, BATCH)
        assert torch.isinf(logits["query_to_query"][[0, 1], [2, 3]]).all()


def test_mnrl_gradient_flows_only_outside_the_hardness_penalty() -> None:
    q = torch.tensor(_embeddings(1)[0], requires_grad=True)
    p, n = (torch.tensor(x) for x in _embeddings(2))
    penalized = F.multiple_negatives_ranking_loss(q, [p, n], hardness_mode="all_negatives", hardness_strength=4.0)
    (grad,) = torch.autograd.grad(penalized, q)
    # Reference: the penalty is a constant added to the logits, so the gradient is that of the logits with a
    # detached offset.
    qn = q / q.norm(dim=1, keepdim=True)
    docs = torch.cat([p, n])
    sims = qn @ (docs / docs.norm(dim=1, keepdim=True)).T
    offset = 4.0 * sims.detach()
    offset[torch.arange(BATCH), torch.arange(BATCH)] = 0.0
    reference = nn.functional.cross_entropy(20.0 * sims + offset, torch.arange(BATCH))
    (expected,) = torch.autograd.grad(reference, q)
    assert penalized.item() == pytest.approx(reference.item(), abs=1e-9)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize(
    "options",
    [
        {"scale": -1.0},
        {"directions": ()},
        {"directions": ("doc_to_doc",)},
        {"directions": ("query_to_doc", "query_to_query"), "partition_mode": "per_direction"},
        {"hardness_mode": "soft"},
        {"hardness_strength": -0.5},
    ],
)
def test_check_ranking_options_rejects(options: dict) -> None:
    arguments = {
        "scale": 20.0,
        "directions": ("query_to_doc",),
        "partition_mode": "joint",
        "hardness_mode": None,
        "hardness_strength": 0.0,
    }
    with pytest.raises(ValueError):
        F.check_ranking_options(**{**arguments, **options})


def _reference_cosent(scores: np.ndarray, labels: np.ndarray, scale: float) -> float:
    """The O(n²) definition: log(1 + Σ_{y_i > y_j} exp(scale (s_j - s_i)))."""
    total = 1.0
    for i, j in itertools.product(range(len(scores)), repeat=2):
        if labels[i] > labels[j]:
            total += math.exp(scale * (scores[j] - scores[i]))
    return math.log(total)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0.9, 0.1, 0.5, 0.3, 0.7]),
        np.array([0.5, 0.5, 0.2, 0.5, 0.2]),
        np.array([1, 0, 1, 1, 0]),
        np.array([True, False, False, True, True]),
        np.array([3, 3, 3, 3, 3]),
    ],
)
def test_cosent_matches_pairwise_definition(labels: np.ndarray) -> None:
    a, b = _embeddings(2)
    scores = np.array([_cos(a[i], b[i]) for i in range(BATCH)])
    value = F.cosent_loss(torch.tensor(a), torch.tensor(b), torch.tensor(labels), scale=3.0)
    assert value.item() == pytest.approx(_reference_cosent(scores, labels, 3.0), abs=1e-9)


def test_cosent_gradient_matches_pairwise_matrix_formula() -> None:
    scores = torch.tensor([0.3, -0.2, 0.8, 0.1, 0.5, 0.1], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.5, 0.0], dtype=torch.float64)
    value = F.cosent_loss_from_scores(scores, labels, scale=5.0)
    (grad,) = torch.autograd.grad(value, scores)
    # Textbook formulation: the full matrix of score differences, masked to label-ordered pairs.
    reference_scores = scores.detach().clone().requires_grad_(True)
    differences = 5.0 * (reference_scores[None, :] - reference_scores[:, None])  # [i, j] = s_j - s_i
    ordered = labels[:, None] > labels[None, :]
    terms = torch.cat([torch.zeros(1, dtype=torch.float64), differences[ordered]])
    reference = torch.logsumexp(terms, dim=0)
    (expected,) = torch.autograd.grad(reference, reference_scores)
    assert value.item() == pytest.approx(reference.item(), abs=1e-12)
    torch.testing.assert_close(grad, expected)


def test_cosent_half_precision_scores_are_upcast() -> None:
    scores = torch.tensor([0.1, 0.9, 0.4], dtype=torch.float16)
    value = F.cosent_loss_from_scores(scores, torch.tensor([0.0, 1.0, 0.5]))
    assert value.dtype == torch.float32


def test_cosent_with_dot_product_and_shape_errors() -> None:
    a, b = _embeddings(2)
    labels = np.array([0.1, 0.4, 0.2, 0.9, 0.3])
    value = F.cosent_loss(
        torch.tensor(a), torch.tensor(b), torch.tensor(labels), scale=0.7, similarity_fct=pairwise_dot_score
    )
    assert value.item() == pytest.approx(_reference_cosent(np.sum(a * b, axis=1), labels, 0.7), abs=1e-9)
    with pytest.raises(ValueError, match="expects 5 labels"):
        F.cosent_loss(torch.tensor(a), torch.tensor(b), torch.ones(4))


def test_cosine_similarity_loss_is_mse_of_cosines() -> None:
    a, b = _embeddings(2)
    labels = np.array([0.1, 0.4, 0.2, 0.9, 0.3])
    cosines = np.array([_cos(a[i], b[i]) for i in range(BATCH)])
    value = F.cosine_similarity_loss(torch.tensor(a), torch.tensor(b), torch.tensor(labels))
    assert value.item() == pytest.approx(np.mean((cosines - labels) ** 2), abs=1e-6)
    transformed = F.cosine_similarity_loss(
        torch.tensor(a),
        torch.tensor(b),
        torch.tensor(labels),
        loss_fct=nn.L1Loss(),
        cos_score_transformation=torch.tanh,
    )
    assert transformed.item() == pytest.approx(np.mean(np.abs(np.tanh(cosines) - labels)), abs=1e-6)


@pytest.mark.parametrize(
    ("prediction", "target", "expected"),
    [
        (torch.bfloat16, torch.float32, torch.float32),
        (torch.float16, torch.float32, torch.float32),
        (torch.float64, torch.float32, torch.float64),
        (torch.float32, torch.float64, torch.float64),
        (torch.float32, torch.float32, torch.float32),
    ],
)
def test_regression_operands_share_a_dtype_of_at_least_float32(
    prediction: torch.dtype, target: torch.dtype, expected: torch.dtype
) -> None:
    scores = torch.tensor([0.25, 0.5], dtype=prediction, requires_grad=True)
    labels = torch.tensor([1.0, 0.0], dtype=target)
    left, right = F.regression_operands(scores, labels)
    assert left.dtype == right.dtype == expected
    assert torch.equal(left.detach(), scores.detach().to(expected)) and torch.equal(right, labels.to(expected))
    nn.functional.mse_loss(left, right).backward()  # the backward torch 2.11 refuses for mixed dtypes
    assert scores.grad is not None and scores.grad.dtype == prediction


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
def test_cosine_similarity_loss_gives_its_regression_loss_one_dtype(dtype: torch.dtype) -> None:
    a, b = (torch.tensor(x, dtype=dtype, requires_grad=True) for x in _embeddings(2))
    value = F.cosine_similarity_loss(a, b, torch.tensor([0.1, 0.4, 0.2, 0.9, 0.3]), loss_fct=SameDtypeMSE())
    value.backward()
    assert value.dtype == torch.promote_types(dtype, torch.float32) and a.grad is not None


def test_pair_classifier_features_and_classification_loss() -> None:
    u, v = _embeddings(2)
    features = F.pair_classifier_features(
        torch.tensor(u), torch.tensor(v), concatenation_sent_multiplication=True
    ).numpy()
    np.testing.assert_allclose(features, np.concatenate([u, v, np.abs(u - v), u * v], axis=1))
    logits = RNG.normal(size=(BATCH, 3))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    classes = np.array([0, 2, 1, 1, 0])
    value = F.classification_loss(torch.tensor(logits), torch.tensor(classes), nn.CrossEntropyLoss())
    assert value.item() == pytest.approx(-np.mean(log_probs[np.arange(BATCH), classes]), abs=1e-9)
    probabilities = RNG.dirichlet(np.ones(3), size=BATCH)
    soft = F.classification_loss(torch.tensor(logits), torch.tensor(probabilities), nn.CrossEntropyLoss())
    assert soft.item() == pytest.approx(-np.mean(np.sum(probabilities * log_probs, axis=1)), abs=1e-9)
