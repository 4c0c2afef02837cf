"""Batch shaping of the trainer's default collator: packed layouts, or bucketed widths where CUDA graphs are recorded;
bucketed training trains like plain training."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.engine.batch_shapes import GRAPH_PAD_MULTIPLE, BatchShapes
from embedforge.engine.compile_notice import compile_notice
from embedforge.engine.row_lengths import ROW_LENGTHS_KEY
from embedforge.engine.varlen import VARLEN_KEY
from embedforge.losses import CachedMultipleNegativesRankingLoss, MultipleNegativesRankingLoss
from helpers import caption_pairs, short_run_arguments, without_dropout


@pytest.mark.parametrize(
    ("compiled", "mode", "device", "multiple", "expected"),
    [
        (False, None, "cuda", None, BatchShapes(False, None)),
        (True, None, "cuda", None, BatchShapes(False, None)),
        (True, "default", "cuda", 16, BatchShapes(False, 16)),
        (True, "max-autotune-no-cudagraphs", "cuda", None, BatchShapes(False, None)),
        (True, "reduce-overhead", "cpu", None, BatchShapes(False, None)),  # no CUDA graphs off CUDA
        (False, "reduce-overhead", "cuda", None, BatchShapes(False, None)),  # a mode without compiling
        (True, "reduce-overhead", "cuda", None, BatchShapes(True, GRAPH_PAD_MULTIPLE)),
        (True, "max-autotune", "cuda", None, BatchShapes(True, GRAPH_PAD_MULTIPLE)),
        (True, "reduce-overhead", "cuda", 64, BatchShapes(True, 64)),  # the user's bucket size wins
    ],
)
def test_plan(compiled: bool, mode: str | None, device: str, multiple: int | None, expected: BatchShapes) -> None:
    plan = BatchShapes.plan(torch_compile=compiled, compile_mode=mode, device_type=device, pad_to_multiple_of=multiple)
    assert plan == expected
    assert (plan.describe() is None) == (multiple is None and not plan.cuda_graphs)


def test_arguments_reject_a_bad_multiple(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pad_to_multiple_of expects a positive number of tokens .* got 0"):
        short_run_arguments(tmp_path, 1, pad_to_multiple_of=0)


def test_cuda_graph_mode_on_a_gpu_plans_padded_buckets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainer's plan and notice read the arguments' device (faked as CUDA here; CI has no GPU)."""
    monkeypatch.setattr(SentenceTransformerTrainingArguments, "device", property(lambda self: torch.device("cuda")))
    args = short_run_arguments(tmp_path, 1, torch_compile=True, torch_compile_mode="reduce-overhead")
    assert SentenceTransformerTrainer.batch_shapes(args) == BatchShapes(True, GRAPH_PAD_MULTIPLE)
    notice = compile_notice(args)
    assert notice is not None and "also records a CUDA graph at the first step of each batch shape" in notice
    plain = short_run_arguments(tmp_path, 1, torch_compile=True)
    assert "CUDA graph" not in str(compile_notice(plain))
    assert SentenceTransformerTrainer.batch_shapes(plain) == BatchShapes(False, None)


def _train(
    path: Path,
    data: Dataset,
    output: Path,
    unpad: bool | None,
    cached: bool,
    graph_collator: bool = False,
    **overrides: object,
) -> tuple[SentenceTransformerTrainer, list]:
    model = SentenceTransformer(str(path), device="cpu")
    model[0].unpad = unpad
    args = short_run_arguments(output, 3, **overrides)
    loss = (
        CachedMultipleNegativesRankingLoss(model, mini_batch_size=3) if cached else MultipleNegativesRankingLoss(model)
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss)
    if graph_collator:  # as built on CUDA under CUDA graphs: no layouts, host-side row lengths
        trainer.data_collator.varlen_layout, trainer.data_collator.row_lengths = False, True
    trainer.train()
    return trainer, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


@pytest.mark.parametrize("cached", [False, True], ids=["mnrl", "cached-mnrl"])
@pytest.mark.parametrize("unpad", [None, False])
def test_bucketed_training_trains_like_plain_training(
    tiny_bert_path: Path,
    shared_data: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    unpad: bool | None,
    cached: bool,
) -> None:
    """Same seed, dropout off (the attention's dropout mask is drawn over the padded width): the extra padding
    changes no loss and no weight, through the packed forward (CPU default) and the padded one, with MNRL and with
    CachedMNRL (mini-batches cut to bucket widths)."""
    path = without_dropout(tiny_bert_path)
    data = caption_pairs(shared_data, 24)
    plain, plain_losses = _train(path, data, tmp_path / "plain", unpad, cached)
    with caplog.at_level(logging.INFO, logger="embedforge.training.trainer"):
        bucketed, losses = _train(path, data, tmp_path / "bucketed", unpad, cached, pad_to_multiple_of=16)
    assert "embedforge batches: batch widths padded up to multiples of 16 tokens" in caplog.text
    batch = bucketed.data_collator([data[index] for index in range(8)])
    widths = [features["input_ids"].shape[1] for features in batch["sentence_features"]]
    assert all(width % 16 == 0 for width in widths)
    assert all(VARLEN_KEY in features for features in batch["sentence_features"])
    assert len(losses) == 3
    assert losses == pytest.approx(plain_losses, rel=1e-5)
    expected = plain.model.state_dict()
    for name, value in bucketed.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=1e-5, msg=name)


def test_cuda_graph_collator_carries_row_lengths_instead_of_layouts(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built by a trainer on a CUDA device (faked after the trainer was built on the CPU): no packed layouts, bucketed
    widths, and each column's host-side lengths, which the cached losses cut mini-batches by."""
    data = caption_pairs(shared_data, 8)
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    args = short_run_arguments(tmp_path, 1, torch_compile=True, torch_compile_mode="reduce-overhead")
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
    )
    monkeypatch.setattr(SentenceTransformerTrainingArguments, "device", property(lambda self: torch.device("cuda")))
    collator = trainer.default_collator(model, args)
    assert (collator.varlen_layout, collator.row_lengths) == (False, True)
    for features in collator([data[index] for index in range(8)])["sentence_features"]:
        assert VARLEN_KEY not in features and features["input_ids"].shape[1] % GRAPH_PAD_MULTIPLE == 0
        assert list(features[ROW_LENGTHS_KEY].lengths) == features["attention_mask"].sum(1).tolist()


def test_cached_loss_on_row_lengths_trains_like_plain_training(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path
) -> None:
    """The CUDA-graph collator's batches (padded forward, buckets, no layouts) through CachedMNRL: its mini-batches
    are cut by the host-side row lengths, with the plain run's losses and weights."""
    path = without_dropout(tiny_bert_path)
    data = caption_pairs(shared_data, 24)
    plain, plain_losses = _train(path, data, tmp_path / "plain", False, True)
    graphs, losses = _train(path, data, tmp_path / "graphs", False, True, graph_collator=True, pad_to_multiple_of=16)
    assert losses == pytest.approx(plain_losses, rel=1e-5)
    expected = plain.model.state_dict()
    for name, value in graphs.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=1e-5, msg=name)
