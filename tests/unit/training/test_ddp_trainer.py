"""SentenceTransformerTrainer under DDP (2 gloo processes, as torchrun starts them) keeps one process's guarantees.

- 2 ranks x batch B equal 1 process x batch 2B (losses without in-batch negatives, no dropout), loss heads too;
- the evaluator runs once (rank 0) and both ranks log rank 0's metrics, equal to the single-process ones;
- only rank 0 writes checkpoints, evaluator files and the model card (rank 1 writes its own RNG state only);
- stopping after a checkpoint and resuming with 2 ranks gives the uninterrupted DDP run's weights.

The workers are in ``ddp_workers.py``; one spawn runs every scenario (a fresh process pair costs seconds here).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from ddp_workers import (
    MAX_STEPS,
    PER_DEVICE_BATCH,
    WORLD_SIZE,
    bi_encoder_worker,
    build_model,
    result_of,
    spawn,
    train_bi_encoder,
)

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo"
)

TIMINGS = ("_runtime", "_per_second")


def _rank_local(write: str) -> bool:
    """What a rank other than 0 may write: transformers saves each rank's RNG state (a resume replays it)."""
    return write.endswith("rng_state_1.pth") or (write.startswith("os.mkdir") and "checkpoint-" in write)


@pytest.fixture(scope="module")
def ddp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    spawn(bi_encoder_worker, str(root))
    return root


@pytest.fixture(scope="module")
def single_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same runs in this process with batch 2B."""
    root = tmp_path_factory.mktemp("single")
    for name, loss_name in (("full", "cosine"), ("softmax", "softmax")):
        model, trainer = train_bi_encoder(root / name, PER_DEVICE_BATCH * WORLD_SIZE, loss_name=loss_name)
        torch.save(result_of(model, trainer), root / f"{name}.pt")
    return root


def _load(root: Path, run: str, rank: int | None = None) -> dict[str, Any]:
    name = f"{run}.pt" if rank is None else f"{run}-rank{rank}.pt"
    return torch.load(root / name, weights_only=False)


def _assert_same_weights(actual: dict, expected: dict, atol: float) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, atol=atol, rtol=0, msg=name)


def _eval_rows(history: list[dict]) -> list[dict]:
    return [
        {key: value for key, value in row.items() if key.startswith("eval_") and not key.endswith(TIMINGS)}
        for row in history
        if "eval_dev_spearman_cosine" in row
    ]


@pytest.mark.parametrize("run", ["full", "softmax"])
def test_two_ranks_equal_one_process_with_twice_the_batch(ddp_root: Path, single_root: Path, run: str) -> None:
    expected = _load(single_root, run)["state"]
    ranks = [_load(ddp_root, run, rank)["state"] for rank in range(WORLD_SIZE)]
    _assert_same_weights(ranks[1], ranks[0], atol=0)  # DDP keeps the replicas identical, loss heads included
    _assert_same_weights(ranks[0], expected, atol=1e-5)
    initial = build_model().state_dict()
    assert any(not torch.allclose(value, expected[name]) for name, value in initial.items())  # it trained
    if run == "softmax":
        assert any(name.startswith("loss.classifier") for name in expected)


def test_evaluator_runs_once_and_every_rank_logs_its_metrics(ddp_root: Path, single_root: Path) -> None:
    ranks = [_load(ddp_root, "full", rank) for rank in range(WORLD_SIZE)]
    assert ranks[0]["evaluator_calls"] == MAX_STEPS // 2 and ranks[1]["evaluator_calls"] == 0
    expected = _eval_rows(_load(single_root, "full")["log_history"])
    assert len(expected) == MAX_STEPS // 2 and "eval_loss" in expected[0]
    for rank in ranks:
        rows = _eval_rows(rank["log_history"])
        assert rows[0].keys() == expected[0].keys()
        for row, reference in zip(rows, expected, strict=True):
            assert row == pytest.approx(reference, abs=1e-5)
    assert _eval_rows(ranks[0]["log_history"]) == _eval_rows(ranks[1]["log_history"])  # rank 0's numbers, sent


def test_only_rank_zero_writes(ddp_root: Path, single_root: Path) -> None:
    ranks = [_load(ddp_root, "full", rank) for rank in range(WORLD_SIZE)]
    assert ranks[1]["saves"] == [] and len(ranks[0]["saves"]) == MAX_STEPS // 2
    assert ranks[0]["writes"], "the write recorder saw nothing on rank 0"
    # The recorder works there (torch.save writes rng_state_1.pth from C++, unseen; the file is checked below).
    assert any(write.startswith("os.mkdir") for write in ranks[1]["writes"])
    others = [write for write in ranks[1]["writes"] if not _rank_local(write)]
    assert others == []
    run = ddp_root / "full"
    with (run / "eval" / "similarity_evaluation_dev_results.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with (single_root / "full" / "eval" / "similarity_evaluation_dev_results.csv").open(encoding="utf-8") as handle:
        assert len(rows) == len(list(csv.reader(handle))) == 1 + MAX_STEPS // 2  # a header, one row per evaluation
    single_files = {path.relative_to(single_root / "full") for path in (single_root / "full").rglob("*")}
    ddp_files = {path.relative_to(run) for path in run.rglob("*")}
    rng_files = {path for path in ddp_files if path.name.startswith("rng_state")}
    assert ddp_files - rng_files == {path for path in single_files if not path.name.startswith("rng_state")}
    assert {path.name for path in rng_files} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert "CosineSimilarityLoss" in (run / f"checkpoint-{MAX_STEPS}" / "README.md").read_text(encoding="utf-8")


def test_resume_with_two_ranks_equals_the_uninterrupted_run(ddp_root: Path) -> None:
    for rank in range(WORLD_SIZE):
        resumed = _load(ddp_root, "resumed", rank)
        assert resumed["log_history"][-1]["step"] == MAX_STEPS
        _assert_same_weights(resumed["state"], _load(ddp_root, "full", rank)["state"], atol=0)  # identical
