"""The trainer's default collator computes packed layouts on the host; training over them equals training
without them, step for step (same seed, dropout on)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.data.collator import SentenceTransformerDataCollator
from embedforge.engine.varlen import VARLEN_KEY
from embedforge.losses import (
    CachedMultipleNegativesRankingLoss,
    CoSENTLoss,
    MatryoshkaLoss,
    MultipleNegativesRankingLoss,
    TripletLoss,
)
from embedforge.models import packing
from helpers import caption_pairs, read_csv, short_run_arguments, stsb_scored


def _train(path: Path, data: Dataset, output: Path, layouts: bool, cached: bool) -> tuple[list[float], dict]:
    model = SentenceTransformer(str(path), device="cpu")
    loss = (
        CachedMultipleNegativesRankingLoss(model, mini_batch_size=3) if cached else MultipleNegativesRankingLoss(model)
    )
    args = short_run_arguments(output, 3)
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
    data = caption_pairs(shared_data, 24)
    for cached in (False, True):
        plain_losses, plain_weights = _train(tiny_bert_path, data, tmp_path / "plain", False, cached)
        losses, weights = _train(tiny_bert_path, data, tmp_path / "layouts", True, cached)
        assert len(losses) == 3
        assert losses == plain_losses
        for name, value in plain_weights.items():
            torch.testing.assert_close(weights[name], value, atol=0, rtol=0, msg=name)


def _triplets(shared_data: Path) -> Dataset:
    rows = read_csv(shared_data / "nli" / "triplet" / "validation.csv.gz", 16)
    return Dataset.from_dict({name: [r[name] for r in rows] for name in ("anchor", "positive", "negative")})


LOSSES = {
    "mnrl": (MultipleNegativesRankingLoss, "pairs"),
    "triplet": (TripletLoss, "triplets"),
    "mnrl-triplets": (MultipleNegativesRankingLoss, "triplets"),
    "matryoshka": (lambda model: MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), [16, 8]), "pairs"),
    "cached-mnrl": (lambda model: CachedMultipleNegativesRankingLoss(model, mini_batch_size=3), "triplets"),
    "cosent": (CoSENTLoss, "scored"),
}


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_the_gpu_path_trains_like_the_cpu_path(
    name: str, tiny_bert_path: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU default (nested attention, columns joined into one forward) run on CPU: same losses, same weights
    as the CPU default (grid attention, one forward per column), dropout off."""
    make_loss, data_name = LOSSES[name]
    data = {
        "pairs": lambda: caption_pairs(shared_data, 24),
        "triplets": lambda: _triplets(shared_data),
        "scored": lambda: stsb_scored(shared_data, 16),
    }[data_name]()
    results = []
    for attention in ("grid", "nested"):
        monkeypatch.setattr(packing, "VARLEN_ATTENTION", attention)
        model = SentenceTransformer(str(tiny_bert_path), device="cpu")
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        # SGD: Adam would turn float-rounding differences of ~0 gradients into whole steps
        args = short_run_arguments(
            tmp_path / attention, 2, per_device_train_batch_size=6, optim="sgd", learning_rate=0.5
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=make_loss(model))
        trainer.train()
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        results.append((losses, {key: value.detach().clone() for key, value in model.state_dict().items()}))
    (grid_losses, grid_weights), (nested_losses, nested_weights) = results
    assert nested_losses == pytest.approx(grid_losses, abs=1e-5)
    for key, value in grid_weights.items():
        torch.testing.assert_close(nested_weights[key], value, atol=1e-5, rtol=1e-4, msg=key)
