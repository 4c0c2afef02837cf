"""``torch_compile=True`` (transformers' flag, honoured by the trainer) trains like eager mode through the packed
forward, and the compiled model does not recompile for every new batch shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.engine.varlen import VARLEN_KEY
from embedforge.losses import MultipleNegativesRankingLoss
from helpers import caption_pairs, short_run_arguments


def _without_dropout(path: Path) -> Path:
    """Dropout off: compiled code draws its dropout masks from its own generator, so only then can steps agree."""
    config_file = path / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config_file.write_text(json.dumps(config), encoding="utf-8")
    return path


def _train(path: Path, data: Dataset, output: Path, compiled: bool) -> tuple[list[float], dict[str, torch.Tensor]]:
    model = SentenceTransformer(str(path), device="cpu")
    args = short_run_arguments(output, 4, torch_compile=compiled)
    loss = MultipleNegativesRankingLoss(model)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss)
    assert all(VARLEN_KEY in features for features in trainer.data_collator([data[0]])["sentence_features"])
    trainer.train()
    assert isinstance(trainer.model_wrapped, torch._dynamo.eval_frame.OptimizedModule) == compiled
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return losses, {name: value.detach().clone() for name, value in model.state_dict().items()}


def test_compiled_training_matches_eager_without_per_batch_recompiles(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path
) -> None:
    from torch._dynamo.utils import counters

    path = _without_dropout(tiny_bert_path)
    data = caption_pairs(shared_data, 32)
    eager_losses, eager_weights = _train(path, data, tmp_path / "eager", compiled=False)
    torch._dynamo.reset()
    counters.clear()
    losses, weights = _train(path, data, tmp_path / "compiled", compiled=True)
    # 4 batches of different widths and packed token counts: the first shape compiles a static graph, the
    # second one a dynamic graph that serves the rest; a forward that read host-side lengths would add one per batch
    assert counters["stats"]["unique_graphs"] <= 2
    assert len(losses) == len(eager_losses) == 4
    assert losses == pytest.approx(eager_losses, rel=1e-4)
    for name, value in eager_weights.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
