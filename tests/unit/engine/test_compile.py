"""``torch_compile=True`` (transformers' flag, honoured by the trainer) trains like eager mode through the packed
forward, and the compiled model does not recompile for every new batch shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.engine.row_lengths import ROW_LENGTHS_KEY
from embedforge.engine.varlen import VARLEN_KEY
from embedforge.losses import MultipleNegativesRankingLoss
from helpers import caption_pairs, short_run_arguments, without_dropout
from model_builders import build_tiny_encoder


def _train(
    path: Path, data: Dataset, output: Path, compiled: bool, padded: bool
) -> tuple[list[float], dict[str, torch.Tensor], set[int]]:
    model = SentenceTransformer(str(path), device="cpu")
    overrides: dict[str, object] = {"torch_compile": compiled}
    if padded:  # the CUDA-graph setting: padded forward, bucketed widths (on CPU inductor records no graphs)
        model[0].unpad = False
        overrides["pad_to_multiple_of"] = 8
        if compiled:  # transformers turns torch_compile on whenever a mode is set
            overrides["torch_compile_mode"] = "reduce-overhead"
    args = short_run_arguments(output, 4, **overrides)
    loss = MultipleNegativesRankingLoss(model)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss)
    if padded:  # the CUDA-graph collator (the trainer builds it on CUDA): no layouts, host-side row lengths
        trainer.data_collator.varlen_layout, trainer.data_collator.row_lengths = False, True
    key = ROW_LENGTHS_KEY if padded else VARLEN_KEY
    assert all(key in features for features in trainer.data_collator([data[0]])["sentence_features"])
    widths = {
        features["input_ids"].shape[1]
        for batch in trainer.get_train_dataloader()
        for features in batch["sentence_features"]
    }
    trainer.train()
    assert isinstance(trainer.model_wrapped, torch._dynamo.eval_frame.OptimizedModule) == compiled
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return losses, {name: value.detach().clone() for name, value in model.state_dict().items()}, widths


@pytest.mark.parametrize("padded", [False, True], ids=["packed", "padded-buckets"])
def test_compiled_training_matches_eager_without_per_batch_recompiles(
    tiny_bert_path: Path, shared_data: Path, tmp_path: Path, padded: bool
) -> None:
    from torch._dynamo.utils import counters

    path = without_dropout(tiny_bert_path)
    data = caption_pairs(shared_data, 32)
    eager_losses, eager_weights, _ = _train(path, data, tmp_path / "eager", compiled=False, padded=padded)
    torch._dynamo.reset()
    counters.clear()
    losses, weights, widths = _train(path, data, tmp_path / "compiled", compiled=True, padded=padded)
    # packed: 4 batches of different widths and packed token counts; padded: widths bucketed to multiples of 8.
    # The first shape compiles a static graph, the second one a dynamic graph that serves the rest; a forward that
    # read host-side lengths (a layout's, or the row lengths the padded batches carry) would add one per batch
    assert len(widths) >= 2 and (not padded or all(width % 8 == 0 for width in widths))
    assert counters["stats"]["unique_graphs"] <= 2
    assert len(losses) == len(eager_losses) == 4
    assert losses == pytest.approx(eager_losses, rel=1e-4)
    for name, value in eager_weights.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("model_type", ["mpnet", "modernbert", "deberta-v2"])
def test_other_architectures_compile_without_graph_breaks(model_type: str, shared_data: Path, tmp_path: Path) -> None:
    """MPNet's and DeBERTa's written-out packed forwards and ModernBERT's (rotary positions, local layers) under
    torch.compile: eager's losses, two graphs for four batch shapes, no graph break."""
    from torch._dynamo.utils import counters

    path = without_dropout(build_tiny_encoder(tmp_path / model_type, model_type))
    data = caption_pairs(shared_data, 32)
    eager_losses, _, _ = _train(path, data, tmp_path / "eager", compiled=False, padded=False)
    torch._dynamo.reset()
    counters.clear()
    losses, _, _ = _train(path, data, tmp_path / "compiled", compiled=True, padded=False)
    assert counters["stats"]["unique_graphs"] <= 2
    assert sum(counters["graph_break"].values()) == 0
    assert losses == pytest.approx(eager_losses, rel=1e-4)
