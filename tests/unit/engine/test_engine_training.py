"""The trainer's default collator computes packed layouts on the host; training over them equals training
without them, step for step (same seed, dropout on)."""

from __future__ import annotations

from pathlib import Path

import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.data.collator import SentenceTransformerDataCollator
from embedforge.engine.varlen import VARLEN_KEY
from embedforge.losses import CachedMultipleNegativesRankingLoss, MultipleNegativesRankingLoss
from helpers import read_csv


def _pairs(shared_data: Path) -> Dataset:
    rows = read_csv(shared_data / "flickr8k-captions" / "train_pairs.csv.gz", 24)
    return Dataset.from_dict({"anchor": [r["anchor"] for r in rows], "positive": [r["positive"] for r in rows]})


def _train(path: Path, data: Dataset, output: Path, layouts: bool, cached: bool) -> tuple[list[float], dict]:
    model = SentenceTransformer(str(path), device="cpu")
    loss = (
        CachedMultipleNegativesRankingLoss(model, mini_batch_size=3) if cached else MultipleNegativesRankingLoss(model)
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output),
        per_device_train_batch_size=8,
        max_steps=3,
        learning_rate=1e-3,
        seed=7,
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        report_to="none",
    )
    collator = None if layouts else SentenceTransformerDataCollator(tokenize_fn=model.tokenize)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss, data_collator=collator)
    batch = trainer.data_collator([data[0], data[1]])
    assert all((VARLEN_KEY in features) == layouts for features in batch["sentence_features"])
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return losses, {name: value.detach().clone() for name, value in model.state_dict().items()}


def test_default_collator_layouts_train_like_the_plain_collator(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path
) -> None:
    data = _pairs(shared_data)
    for cached in (False, True):
        plain_losses, plain_weights = _train(tiny_bert_path, data, tmp_path / "plain", False, cached)
        losses, weights = _train(tiny_bert_path, data, tmp_path / "layouts", True, cached)
        assert len(losses) == 3
        assert losses == plain_losses
        for name, value in plain_weights.items():
            torch.testing.assert_close(weights[name], value, atol=0, rtol=0, msg=name)
