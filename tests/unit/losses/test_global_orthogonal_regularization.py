"""GlobalOrthogonalRegularizationLoss: same terms and gradients as sentence-transformers 6.2; trainer logs both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from teacher_loss_helpers import read_rows, train_args, train_two_steps
from torch import Tensor, nn

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.data.validation import DatasetValidationError
from embedforge.losses import InputSpec, LabelKind, Loss, MultipleNegativesRankingLoss
from embedforge.losses.functional.regularization import gor_terms
from embedforge.losses.global_orthogonal_regularization import GlobalOrthogonalRegularizationLoss
from embedforge.util import dot_score

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
st_util = pytest.importorskip("sentence_transformers.util")


class Summed(nn.Module):
    """The sum of a dict-valued loss (what the trainer optimizes), with the model registered first."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.model = loss.model
        self.loss = loss

    def forward(self, sentence_features: list[dict], labels: Tensor | None) -> Tensor:
        return torch.stack(list(self.loss(sentence_features, labels).values())).sum()


CASES = [
    pytest.param(2, {}, id="pairs"),
    pytest.param(3, {"aggregation": "sum"}, id="triplets-sum"),
    pytest.param(2, {"mean_weight": 0.0, "aggregation": "sum"}, id="embeddinggemma"),
    pytest.param(2, {"second_moment_weight": None, "mean_weight": 2.5}, id="mean-only"),
    pytest.param(2, {"similarity_fct": "dot", "mean_weight": 0.01, "second_moment_weight": 0.001}, id="dot"),
]


@pytest.mark.parametrize(("num_columns", "kwargs"), CASES)
def test_matches_sentence_transformers(
    model_pair: tuple, columns: list[list[str]], check_parity: Callable[..., float], num_columns: int, kwargs: dict
) -> None:
    ours, theirs = model_pair
    our_kwargs, their_kwargs = dict(kwargs), dict(kwargs)
    if kwargs.get("similarity_fct") == "dot":
        our_kwargs["similarity_fct"], their_kwargs["similarity_fct"] = dot_score, st_util.dot_score
    loss = GlobalOrthogonalRegularizationLoss(ours, **our_kwargs)
    their_loss = st_losses.GlobalOrthogonalRegularizationLoss(theirs, **their_kwargs)
    check_parity(Summed(loss), Summed(their_loss), columns[:num_columns])
    with torch.no_grad():
        terms = loss([ours.tokenize(column) for column in columns[:num_columns]])
        their_terms = their_loss([theirs.preprocess(column) for column in columns[:num_columns]])
    assert terms.keys() == their_terms.keys()
    for key, value in terms.items():
        assert value.item() == pytest.approx(their_terms[key].item(), abs=1e-6)
    assert loss.get_config_dict() == their_loss.get_config_dict()


def test_reference_formula(model_pair: tuple) -> None:
    rng = np.random.default_rng(3)
    columns = [rng.normal(size=(5, 4)).astype(np.float32) for _ in range(2)]
    expected_means, expected_seconds = [], []
    for column in columns:
        unit = column / np.linalg.norm(column, axis=1, keepdims=True)
        off_diagonal = (unit @ unit.T)[~np.eye(5, dtype=bool)]
        expected_means.append(off_diagonal.mean() ** 2)
        expected_seconds.append(max(0.0, (off_diagonal**2).mean() - 1 / 4))
    loss = GlobalOrthogonalRegularizationLoss(
        model_pair[0], mean_weight=0.5, second_moment_weight=3.0, aggregation="sum"
    )
    terms = loss.compute_loss_from_embeddings([torch.from_numpy(c) for c in columns])
    assert terms["gor_mean"].item() == pytest.approx(0.5 * sum(expected_means), rel=1e-5)
    assert terms["gor_second_moment"].item() == pytest.approx(3.0 * sum(expected_seconds), rel=1e-5)


def test_orthogonal_and_single_row_batches_give_zero() -> None:
    assert [t.item() for t in gor_terms(torch.eye(4))] == [0.0, 0.0]
    single = torch.randn(1, 8, requires_grad=True)
    mean_term, second_term = gor_terms(single)
    (mean_term + second_term).backward()
    assert mean_term.item() == second_term.item() == 0.0
    assert single.grad is not None


def test_trainer_sums_and_logs_both_terms(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    rows = read_rows(shared_data / "flickr8k-captions" / "train_pairs.csv.gz", 16)
    dataset = Dataset.from_dict({"anchor": [r["anchor"] for r in rows], "positive": [r["positive"] for r in rows]})
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    trainer = train_two_steps(model, dataset, GlobalOrthogonalRegularizationLoss(model), tmp_path)
    logged = [entry for entry in trainer.state.log_history if "gor_mean" in entry]
    assert len(logged) >= 2
    assert all("gor_second_moment" in entry for entry in logged)


def test_multi_task_with_a_labelled_dataset(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    rows = read_rows(shared_data / "stsb" / "train.csv", 16)
    pairs = Dataset.from_dict({name: [r[name] for r in rows] for name in ("sentence1", "sentence2")})
    scored = pairs.add_column("score", [float(r["score"]) for r in rows])
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    losses = {"main": MultipleNegativesRankingLoss(model), "gor": GlobalOrthogonalRegularizationLoss(model)}
    trainer = SentenceTransformerTrainer(
        model=model, args=train_args(tmp_path), train_dataset={"main": pairs, "gor": scored}, loss=losses
    )
    assert trainer.train().global_step == 2


def test_trainer_rejects_wrong_data_up_front(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    only_labels = Dataset.from_dict({"label": [1, 0]})
    with pytest.raises(DatasetValidationError, match=r"0 input column\(s\)"):
        SentenceTransformerTrainer(
            model=model, train_dataset=only_labels, loss=GlobalOrthogonalRegularizationLoss(model)
        )


def test_declarations_and_errors(model_pair: tuple) -> None:
    ours, theirs = model_pair
    loss = GlobalOrthogonalRegularizationLoss(ours)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(1, None, LabelKind.OPTIONAL, loss.input_spec.description)
    assert set(loss.config_keys) == set(st_losses.GlobalOrthogonalRegularizationLoss(theirs).get_config_dict())
    assert loss.citation == st_losses.GlobalOrthogonalRegularizationLoss(theirs).citation
    for kwargs in ({"mean_weight": 0.0, "second_moment_weight": None}, {"aggregation": "max"}):
        with pytest.raises(ValueError):
            st_losses.GlobalOrthogonalRegularizationLoss(theirs, **kwargs)
        with pytest.raises(ValueError, match="mean_weight or second_moment_weight|aggregation"):
            GlobalOrthogonalRegularizationLoss(ours, **kwargs)
