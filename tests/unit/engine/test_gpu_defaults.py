"""GPU training defaults: each rule on a (simulated) CUDA device, each exemption, and nothing on CPU."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset, IterableDataset
from torch import nn
from transformers.trainer_pt_utils import AcceleratorConfig

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.engine import gpu_defaults
from embedforge.engine.gpu_defaults import apply_gpu_defaults
from embedforge.engine.token_cache import TokenCache
from embedforge.losses import MultipleNegativesRankingLoss


@pytest.fixture
def on_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training arguments report a CUDA device, on a bf16 card, 16 free cores, fork-started workers, one process."""
    monkeypatch.setattr(SentenceTransformerTrainingArguments, "device", property(lambda self: torch.device("cuda", 0)))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(gpu_defaults, "_available_cpus", lambda: 16)
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "fork")
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)


def make_args(tmp_path: Path, **kwargs: Any) -> SentenceTransformerTrainingArguments:
    return SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", **kwargs)


def pairs() -> Dataset:
    return Dataset.from_dict({"anchor": ["a dog runs", "the cat"], "positive": ["a dog is running", "a cat"]})


def apply(args: SentenceTransformerTrainingArguments, **kwargs: Any) -> list[str]:
    kwargs.setdefault("datasets", [pairs()])
    return apply_gpu_defaults(args, nn.Linear(2, 2), **kwargs)


def test_nothing_changes_on_cpu(tmp_path: Path) -> None:
    args = make_args(tmp_path)
    assert args.device.type == "cpu"
    before = args.to_dict()
    assert apply(args) == []
    assert args.to_dict() == before


@pytest.mark.usefixtures("on_gpu")
def test_every_default_changes_on_a_gpu(tmp_path: Path) -> None:
    args = make_args(tmp_path)
    lines = apply(args)
    assert len(lines) == 3
    assert lines[0].startswith("bf16 autocast on")
    assert (args.bf16, args.fp16, args.mixed_precision) == (True, False, "bf16")
    assert args.accelerator_config.non_blocking is True
    assert "dataloader_num_workers 0 -> 4" in lines[2]
    assert (args.dataloader_num_workers, args.dataloader_persistent_workers, args.dataloader_prefetch_factor) == (
        4,
        True,
        2,
    )
    assert apply(args) == []  # applied once: the settings are no longer at their defaults


@pytest.mark.usefixtures("on_gpu")
def test_opt_out(tmp_path: Path) -> None:
    args = make_args(tmp_path, gpu_defaults=False)
    assert apply(args) == []
    assert (args.bf16, args.accelerator_config.non_blocking, args.dataloader_num_workers) == (False, False, 0)


@pytest.mark.usefixtures("on_gpu")
@pytest.mark.parametrize("chosen", ["fp16", "bf16", "env", "deepspeed", "card", "half_model"])
def test_bf16_exemptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chosen: str) -> None:
    args = make_args(tmp_path)
    model: nn.Module = nn.Linear(2, 2)
    if chosen == "fp16":
        args.fp16, args.mixed_precision = True, "fp16"
    elif chosen == "bf16":
        args.bf16, args.mixed_precision = True, "bf16"
    elif chosen == "env":  # ACCELERATE_MIXED_PRECISION, read by __post_init__
        args.mixed_precision = "fp8"
    elif chosen == "deepspeed":
        args.deepspeed = "ds_config.json"
    elif chosen == "card":
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    else:
        model = model.half()
    before = (args.bf16, args.fp16, args.mixed_precision)
    lines = apply_gpu_defaults(args, model, datasets=[pairs()])
    assert not any(line.startswith("bf16") for line in lines)
    assert (args.bf16, args.fp16, args.mixed_precision) == before
    assert len(lines) == 2  # the other rules still apply


@pytest.mark.usefixtures("on_gpu")
def test_non_blocking_rules(tmp_path: Path) -> None:
    unpinned = make_args(tmp_path, dataloader_pin_memory=False)
    assert not any("non-blocking" in line for line in apply(unpinned))
    assert unpinned.accelerator_config.non_blocking is False
    users_config = AcceleratorConfig()
    args = make_args(tmp_path, accelerator_config=users_config)
    assert any("non-blocking" in line for line in apply(args))
    assert args.accelerator_config.non_blocking is True
    assert users_config.non_blocking is False  # replaced, not changed in place
    assert args.accelerator_config.even_batches is users_config.even_batches


def _with_transform(dataset: Dataset) -> Dataset:
    return dataset.with_transform(lambda batch: batch)


def _iterable(dataset: Dataset) -> IterableDataset:
    return dataset.to_iterable_dataset()


@pytest.mark.usefixtures("on_gpu")
@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"data_collator": lambda rows: rows}, "user's collator"),
        ({"datasets": [pairs(), _with_transform(pairs())]}, "a dataset with a transform"),
        ({"datasets": [_iterable(pairs())]}, "not a datasets.Dataset"),
        ({"datasets": []}, "no dataset"),
    ],
)
def test_workers_stay_in_the_main_process(tmp_path: Path, kwargs: dict[str, Any], why: str) -> None:
    args = make_args(tmp_path)
    lines = apply(args, **kwargs)
    assert not any("dataloader_num_workers" in line for line in lines), why
    assert (args.dataloader_num_workers, args.dataloader_persistent_workers, args.dataloader_prefetch_factor) == (
        0,
        False,
        None,
    )


@pytest.mark.usefixtures("on_gpu")
def test_workers_need_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    args = make_args(tmp_path)
    apply(args)
    assert args.dataloader_num_workers == 0


@pytest.mark.usefixtures("on_gpu")
@pytest.mark.parametrize(
    ("cpus", "local_processes", "workers"), [(16, 1, 4), (6, 1, 3), (2, 1, 1), (1, 1, 0), (16, 4, 2)]
)
def test_worker_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int, local_processes: int, workers: int
) -> None:
    monkeypatch.setattr(gpu_defaults, "_available_cpus", lambda: cpus)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local_processes))
    args = make_args(tmp_path)
    apply(args)
    assert args.dataloader_num_workers == workers
    assert args.dataloader_persistent_workers is (workers > 0)


@pytest.mark.usefixtures("on_gpu")
def test_workers_set_by_the_user_are_kept(tmp_path: Path) -> None:
    chosen = make_args(tmp_path, dataloader_num_workers=2, dataloader_prefetch_factor=6)
    assert not any("dataloader_num_workers" in line for line in apply(chosen))
    assert (chosen.dataloader_num_workers, chosen.dataloader_persistent_workers) == (2, False)
    prefetch = make_args(tmp_path)
    prefetch.dataloader_persistent_workers = True  # equal to what the rule would set: nothing to tell apart
    apply(prefetch)
    assert (prefetch.dataloader_num_workers, prefetch.dataloader_prefetch_factor) == (4, 2)


def test_trainer_applies_and_logs_the_defaults_once(
    _tiny_bert_session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dict[str, Any]] = []

    def recording_defaults(args: Any, model: Any, **kwargs: Any) -> list[str]:
        calls.append({"args": args, "model": model, **kwargs})
        return ["bf16 autocast on (test)", "second change"]

    monkeypatch.setattr("embedforge.training.base_trainer.apply_gpu_defaults", recording_defaults)
    model = SentenceTransformer(str(_tiny_bert_session), device="cpu")
    args = make_args(tmp_path)
    data = pairs()
    with caplog.at_level(logging.INFO, logger="embedforge.training.base_trainer"):
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
        )
    assert len(calls) == 1
    assert calls[0]["args"] is args and calls[0]["model"] is model and calls[0]["data_collator"] is None
    assert calls[0]["datasets"] == [data]
    messages = [record.getMessage() for record in caplog.records if "GPU defaults" in record.getMessage()]
    assert messages == ["embedforge GPU defaults: bf16 autocast on (test); second change."]
    assert isinstance(trainer.data_collator.tokenize_fn, TokenCache)
    assert trainer.data_collator.tokenize_fn.model is model
