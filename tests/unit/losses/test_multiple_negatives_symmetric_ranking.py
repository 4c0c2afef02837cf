"""MultipleNegativesSymmetricRankingLoss: equal to sentence-transformers 6.2 and to symmetric InfoNCE; trains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from contrastive_helpers import caption_pairs
from triplet_helpers import assert_trainer_rejects, train_two_steps

from embedforge import SentenceTransformer
from embedforge.losses import MultipleNegativesRankingLoss
from embedforge.losses.multiple_negatives_symmetric_ranking import MultipleNegativesSymmetricRankingLoss
from embedforge.util import dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")

pytestmark = pytest.mark.filterwarnings("ignore:MultipleNegativesSymmetricRankingLoss is deprecated")


@pytest.mark.parametrize(
    ("num_columns", "kwargs"),
    [
        pytest.param(2, {}, id="pairs"),
        pytest.param(3, {}, id="triplets"),
        pytest.param(2, {"scale": 7.5}, id="scale"),
        pytest.param(2, {"similarity_fct": "dot", "scale": 1.0}, id="dot"),
    ],
)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], num_columns: int, kwargs: dict
) -> None:
    ours, theirs = model_pair
    our_kwargs, their_kwargs = dict(kwargs), dict(kwargs)
    if kwargs.get("similarity_fct") == "dot":
        our_kwargs["similarity_fct"], their_kwargs["similarity_fct"] = dot_score, st_util.dot_score
    value = check_parity(
        MultipleNegativesSymmetricRankingLoss(ours, **our_kwargs),
        st_losses.MultipleNegativesSymmetricRankingLoss(theirs, **their_kwargs),
        columns[:num_columns],
    )
    assert value > 0


def _cross_entropy_of_diagonal(logits: np.ndarray) -> float:
    row_max = logits.max(axis=1, keepdims=True)
    log_partition = np.log(np.exp(logits - row_max).sum(axis=1)) + row_max[:, 0]
    return float(np.mean(log_partition - np.diag(logits)))


def test_value_equals_symmetric_infonce() -> None:
    rng = np.random.default_rng(4)
    anchors, positives = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    unit_a = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    unit_p = positives / np.linalg.norm(positives, axis=1, keepdims=True)
    logits = 20.0 * unit_a @ unit_p.T
    expected = (_cross_entropy_of_diagonal(logits) + _cross_entropy_of_diagonal(logits.T)) / 2
    loss = MultipleNegativesSymmetricRankingLoss(torch.nn.Identity())
    value = loss.compute_loss_from_embeddings([torch.tensor(anchors), torch.tensor(positives)])
    assert value.item() == pytest.approx(expected, abs=1e-9)


def test_is_the_symmetric_multiple_negatives_ranking_loss(model_pair: tuple) -> None:
    ours, theirs = model_pair
    with pytest.warns(DeprecationWarning, match="directions=\\('query_to_doc', 'doc_to_query'\\)"):
        loss = MultipleNegativesSymmetricRankingLoss(ours, scale=10.0)
    assert isinstance(loss, MultipleNegativesRankingLoss)
    assert loss.directions == ("query_to_doc", "doc_to_query")
    assert loss.partition_mode == "per_direction"
    their_loss = st_losses.MultipleNegativesSymmetricRankingLoss(theirs, scale=10.0)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    assert loss.citation == their_loss.citation


def test_trains_on_caption_pairs(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    train_two_steps(model, caption_pairs(shared_data), MultipleNegativesSymmetricRankingLoss(model), tmp_path)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": ["x", "y"]}, "1 input column", id="one-text"),
        pytest.param({"a": ["x", "y"], "b": ["x", "y"], "label": [0, 1]}, "takes no labels", id="label"),
    ],
)
def test_trainer_rejects_wrong_data(model_pair: tuple, tmp_path: Path, columns: dict, expected: str) -> None:
    ours, _ = model_pair
    assert_trainer_rejects(ours, MultipleNegativesSymmetricRankingLoss(ours), columns, expected, tmp_path)
