"""The line a trainer logs when ``torch_compile=True``: what the first steps spend on compilation."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.engine.compile_notice import compile_notice
from embedforge.losses import MultipleNegativesRankingLoss
from helpers import short_run_arguments


def test_no_notice_without_compilation(tmp_path: Path) -> None:
    assert compile_notice(short_run_arguments(tmp_path, 1)) is None


def test_notice_names_backend_mode_and_the_compiling_steps(tmp_path: Path) -> None:
    plain = compile_notice(short_run_arguments(tmp_path, 1, torch_compile=True))
    assert plain is not None
    assert plain.startswith("torch_compile=True (backend 'inductor', mode 'default'): the first training step compiles")
    assert "compiles once more, with dynamic shapes" in plain
    chosen = compile_notice(short_run_arguments(tmp_path, 1, torch_compile=True, torch_compile_mode="max-autotune"))
    assert chosen is not None and "mode 'max-autotune'" in chosen


@pytest.mark.parametrize("compiled", [True, False])
def test_trainer_logs_the_notice_once(
    _tiny_bert_session: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, compiled: bool
) -> None:
    model = SentenceTransformer(str(_tiny_bert_session), device="cpu")
    args = short_run_arguments(tmp_path, 1, torch_compile=compiled)
    data = Dataset.from_dict({"anchor": ["a dog runs", "the cat"], "positive": ["a dog is running", "a cat"]})
    with caplog.at_level(logging.INFO, logger="embedforge.training.base_trainer"):
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model))
    messages = [record.getMessage() for record in caplog.records if record.getMessage().startswith("torch_compile")]
    assert messages == ([compile_notice(args)] if compiled else [])
