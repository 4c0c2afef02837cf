"""The training arguments name a CPU as plain ``cpu``: resuming under CPU DDP loads the optimizer state there."""

from __future__ import annotations

import io

import pytest
import torch
from transformers import TrainingArguments

from embedforge.cross_encoder import CrossEncoderTrainingArguments
from embedforge.training.arguments import SentenceTransformerTrainingArguments


@pytest.mark.parametrize("arguments", [SentenceTransformerTrainingArguments, CrossEncoderTrainingArguments])
def test_an_indexed_cpu_becomes_plain_cpu_and_loads_a_saved_state(
    arguments: type, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr(TrainingArguments, "_setup_devices", property(lambda self: torch.device("cpu", 1)))
    args = arguments(output_dir=str(tmp_path))
    assert args.device == torch.device("cpu") and str(args.device) == "cpu"
    buffer = io.BytesIO()
    torch.save({"state": {0: {"exp_avg": torch.ones(3)}}}, buffer)
    buffer.seek(0)
    with pytest.raises(RuntimeError, match="cpu:1"):  # what transformers < 5.2x asked torch for under CPU DDP
        torch.load(io.BytesIO(buffer.getvalue()), map_location=torch.device("cpu", 1), weights_only=True)
    assert torch.equal(
        torch.load(buffer, map_location=args.device, weights_only=True)["state"][0]["exp_avg"], torch.ones(3)
    )


def test_other_devices_keep_their_index(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(TrainingArguments, "_setup_devices", property(lambda self: torch.device("cuda", 1)))
    assert SentenceTransformerTrainingArguments(output_dir=str(tmp_path)).device == torch.device("cuda", 1)
