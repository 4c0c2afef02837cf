"""A NaN/inf training loss stops training with a clear error before it touches the weights, or is skipped and counted.

The model is a word-embedding + mean pooling model built in code (it trains in milliseconds); the loss is
CosineSimilarityLoss, made to return NaN at chosen calls, or fed a label that overflows float32 to inf.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
import torch.distributed as dist
from torch import nn

import embedforge
from embedforge.training.nonfinite import SKIPPED_KEY, NonFiniteLossError, skipped_batches
from spawn_helpers import exit_rank, free_port, run_ranks

if TYPE_CHECKING:
    from datasets import Dataset

# The spawned workers of the two-process test import this module: the heavy imports (transformers' Trainer,
# datasets) are made inside the tests, through ``embedforge``'s lazy attributes, so that each worker starts fast.
WORDS = "a man woman dog cat plays eats runs sits on the table guitar food park beach".split()


def _model() -> embedforge.SentenceTransformer:
    from embedforge.models.pooling import Pooling
    from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
    from embedforge.models.word_embeddings import WordEmbeddings

    generator = torch.Generator().manual_seed(0)
    vocab = ["[PAD]", *WORDS]
    embeddings = WordEmbeddings(
        WhitespaceTokenizer(vocab, stop_words=()), torch.randn(len(vocab), 8, generator=generator), True
    )
    return embedforge.SentenceTransformer(modules=[embeddings, Pooling(8, "mean")], device="cpu")


def _pairs(rows: int = 16, score: float = 0.5) -> Dataset:
    from datasets import Dataset

    first = [f"a {WORDS[1 + index % 4]} {WORDS[5 + index % 4]}" for index in range(rows)]
    second = [f"the {WORDS[1 + (index + 1) % 4]} {WORDS[9 + index % 4]}" for index in range(rows)]
    return Dataset.from_dict({"sentence1": first, "sentence2": second, "score": [score] * rows})


def _cosine_loss(model: embedforge.SentenceTransformer) -> nn.Module:
    from embedforge.losses import CosineSimilarityLoss

    return CosineSimilarityLoss(model)


class NanAtCalls(nn.Module):
    """CosineSimilarityLoss whose value is NaN at the given (1-based) calls, counting training calls only or all."""

    def __init__(self, model: embedforge.SentenceTransformer, nan_calls: set[int], training_only: bool = True) -> None:
        super().__init__()
        self.inner = _cosine_loss(model)
        self.nan_calls = nan_calls
        self.training_only = training_only
        self.calls = 0

    def forward(self, sentence_features: Any, labels: torch.Tensor | None) -> torch.Tensor:
        value = self.inner(sentence_features, labels)
        if self.training or not self.training_only:
            self.calls += 1
            if self.calls in self.nan_calls:
                return value * float("nan")  # a backward pass through this would make every gradient NaN
        return value


def _args(tmp_path: Path, **overrides: Any) -> embedforge.SentenceTransformerTrainingArguments:
    settings: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 4,
        "max_steps": 4,
        "learning_rate": 0.1,
        "save_strategy": "steps",
        "save_steps": 2,
        "logging_steps": 1,
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": True,
        "seed": 0,
    }
    return embedforge.SentenceTransformerTrainingArguments(**{**settings, **overrides})


def _weights(model: embedforge.SentenceTransformer) -> torch.Tensor:
    return torch.cat([parameter.detach().reshape(-1).clone() for parameter in model.parameters()])


def test_nan_loss_stops_with_step_dataset_value_and_keeps_the_checkpoint(tmp_path: Path) -> None:
    model = _model()
    args = _args(tmp_path)
    trainer = embedforge.SentenceTransformerTrainer(
        model=model, args=args, train_dataset={"stsb": _pairs()}, loss=NanAtCalls(model, {3})
    )
    with pytest.raises(NonFiniteLossError) as caught:
        trainer.train()
    message = str(caught.value)
    assert "step 3" in message and "'stsb'" in message and "loss nan" in message
    assert "checkpoint-2" in message and "nonfinite_loss='skip'" in message
    assert sorted(path.name for path in Path(args.output_dir).glob("checkpoint-*")) == ["checkpoint-2"]
    saved = embedforge.SentenceTransformer(str(Path(args.output_dir) / "checkpoint-2"), device="cpu")
    assert torch.equal(_weights(saved), _weights(model))  # the NaN batch changed nothing
    assert torch.isfinite(_weights(model)).all()


def test_skip_policy_skips_the_batch_without_an_optimizer_step_and_counts_it(tmp_path: Path) -> None:
    model = _model()
    args = _args(tmp_path, nonfinite_loss="skip", max_steps=3, save_steps=2)
    trainer = embedforge.SentenceTransformerTrainer(
        model=model, args=args, train_dataset=_pairs(), loss=NanAtCalls(model, {3})
    )
    trainer.train()
    assert trainer.state.global_step == 3
    assert skipped_batches(trainer.state.log_history) == 1
    assert [row[SKIPPED_KEY] for row in trainer.state.log_history if SKIPPED_KEY in row] == [1.0]
    saved = embedforge.SentenceTransformer(str(Path(args.output_dir) / "checkpoint-2"), device="cpu")
    assert torch.equal(_weights(saved), _weights(model))  # step 3 (skipped) made no update
    assert torch.isfinite(_weights(model)).all()
    from embedforge.cli.report import RunSummary, write_report

    report = RunSummary(recipe_yaml="", log_history=trainer.state.log_history, global_step=3)
    path = write_report(tmp_path / "report", report)
    assert "1 batch skipped for a non-finite (NaN/inf) loss" in path.read_text()
    assert '"nonfinite_loss_skipped": 1' in (tmp_path / "report" / "report.json").read_text()


def test_skip_counts_every_skipped_batch_and_training_goes_on(tmp_path: Path) -> None:
    model = _model()
    args = _args(tmp_path, nonfinite_loss="skip", max_steps=5, save_strategy="no")
    trainer = embedforge.SentenceTransformerTrainer(
        model=model, args=args, train_dataset=_pairs(), loss=NanAtCalls(model, {2, 4})
    )
    before = _weights(model)
    trainer.train()
    assert skipped_batches(trainer.state.log_history) == 2
    assert not torch.equal(before, _weights(model))  # the finite batches did train
    assert torch.isfinite(_weights(model)).all()


def test_a_row_whose_label_overflows_to_inf_stops_training_naming_the_dataset(tmp_path: Path) -> None:
    """1e39 is a finite float64 (the data checks pass it) that becomes inf as a float32 label."""
    model = _model()
    data = _pairs(8)
    data = type(data).from_dict({**data.to_dict(), "score": [0.5] * 4 + [1e39] + [0.5] * 3})
    trainer = embedforge.SentenceTransformerTrainer(
        model=model,
        args=_args(tmp_path, max_steps=2, save_strategy="no"),
        train_dataset={"scores": data},
        loss=_cosine_loss(model),
    )
    with pytest.raises(NonFiniteLossError, match=r"dataset 'scores': loss inf.*labels hold 1 NaN/inf") as caught:
        trainer.train()
    step = int(re.search(r"at step (\d+) ", str(caught.value)).group(1))
    assert step == trainer.state.global_step + 1  # the step of the bad batch, which was not taken


def test_multi_dataset_error_names_the_batch_dataset(tmp_path: Path) -> None:
    model = _model()
    trainer = embedforge.SentenceTransformerTrainer(
        model=model,
        args=_args(tmp_path, save_strategy="no", multi_dataset_batch_sampler="round_robin"),
        train_dataset={"good": _pairs(8), "bad": _pairs(8)},
        loss={"good": _cosine_loss(model), "bad": NanAtCalls(model, {1})},
    )
    with pytest.raises(NonFiniteLossError, match="dataset 'bad'"):
        trainer.train()


def test_evaluation_loss_is_not_checked(tmp_path: Path) -> None:
    model = _model()
    trainer = embedforge.SentenceTransformerTrainer(
        model=model, args=_args(tmp_path), eval_dataset=_pairs(4), loss=NanAtCalls(model, {1}, training_only=False)
    )
    assert torch.isnan(torch.tensor(trainer.evaluate()["eval_loss"]))


def test_policy_is_checked_and_settable_from_a_recipe(tmp_path: Path) -> None:
    from embedforge.config.build import training_argument_problems

    with pytest.raises(ValueError, match=r"nonfinite_loss expects one of \['error', 'skip'\], got 'ignore'"):
        _args(tmp_path, nonfinite_loss="ignore")
    assert _args(tmp_path).nonfinite_loss == "error"
    assert training_argument_problems({"nonfinite_loss": "skip"}) == []


# --------------------------------------------------------------------------------- two processes (gloo)


def _ddp_run(out: Path, policy: str, nan_calls: set[int]) -> dict[str, Any]:
    """Train 3 steps under DDP with NaN losses at ``nan_calls`` on this rank; what the rank ended with."""
    model = _model()
    args = _args(out, nonfinite_loss=policy, max_steps=3, save_strategy="no", ddp_backend="gloo")
    trainer = embedforge.SentenceTransformerTrainer(
        model=model, args=args, train_dataset={"pairs": _pairs()}, loss=NanAtCalls(model, nan_calls)
    )
    try:
        trainer.train()
    except NonFiniteLossError as error:
        return {"error": str(error), "step": trainer.state.global_step}
    return {"weights": _weights(model), "skipped": skipped_batches(trainer.state.log_history)}


def _ddp_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2"
    )
    torch.set_num_threads(1)
    try:
        results = {
            "skip": _ddp_run(Path(out) / "skip", "skip", {2} if rank == 1 else set()),
            "error": _ddp_run(Path(out) / "error", "error", {2} if rank == 0 else set()),
        }
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    torch.save(results, Path(out) / f"rank{rank}.pt")
    exit_rank()


def test_ddp_ranks_skip_or_stop_together_when_one_rank_has_a_nan_loss(tmp_path: Path) -> None:
    """Rank 1 alone sees NaN (skip run), then rank 0 alone (error run); neither run hangs or diverges."""
    run_ranks(_ddp_worker, (free_port(), str(tmp_path)), timeout=180)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=False) for rank in range(2)]
    assert [result["skip"]["skipped"] for result in ranks] == [1, 1]
    assert torch.equal(ranks[0]["skip"]["weights"], ranks[1]["skip"]["weights"])
    assert torch.isfinite(ranks[0]["skip"]["weights"]).all()
    assert "on a batch of dataset 'pairs': loss nan" in ranks[0]["error"]["error"]
    assert "a non-finite one on another rank" in ranks[1]["error"]["error"]
    assert ranks[0]["error"]["step"] == ranks[1]["error"]["step"] == 1
