"""Training a model with a LoRA adapter trains the adapter only; checkpoints hold it alone and resume exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
from embedforge.losses import CoSENTLoss
from model_builders import build_tiny_classifier

LoraConfig = pytest.importorskip("peft").LoraConfig

_ARGS = {
    "per_device_train_batch_size": 8,
    "report_to": "none",
    "use_cpu": True,
    "learning_rate": 5e-3,
    "seed": 3,
    "max_steps": 4,
    "save_strategy": "steps",
    "save_steps": 2,
    "logging_steps": 1,
}


def _lora() -> LoraConfig:
    return LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=["query", "value"])


def _train(path: Path, data: Dataset, output: Path, adapter_name: str | None, resume: str | None = None) -> object:
    torch.manual_seed(0)
    model = SentenceTransformer(str(path), device="cpu")
    model.add_adapter(_lora(), adapter_name=adapter_name)
    args = SentenceTransformerTrainingArguments(output_dir=str(output), **_ARGS)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=CoSENTLoss(model))
    trainer.train(resume_from_checkpoint=resume)
    return model


def _changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    return {name for name, value in model.state_dict().items() if not torch.equal(before[name], value)}


@pytest.mark.parametrize("adapter_name", [None, "mine"])
def test_lora_training_changes_only_the_adapter_and_resumes(
    tiny_bert_path: Path, stsb_pairs: Dataset, tmp_path: Path, adapter_name: str | None
) -> None:
    before = SentenceTransformer(str(tiny_bert_path), device="cpu").state_dict()
    full = _train(tiny_bert_path, stsb_pairs, tmp_path / "full", adapter_name)
    name = adapter_name or "default"
    state = full.state_dict()
    changed = {key for key, value in state.items() if key in before and not torch.equal(before[key], value)}
    assert not changed, f"base weights changed: {sorted(changed)[:3]}"
    lora = {key for key in state if f".{name}." in key and "lora_B" in key}
    assert lora and all(state[key].abs().sum() > 0 for key in lora), "LoRA B starts at zero and must have trained"

    checkpoint = tmp_path / "full" / "checkpoint-2"
    files = {path.name for path in checkpoint.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "modules.json"} <= files
    assert not {"config.json", "model.safetensors"} & files

    resumed = _train(tiny_bert_path, stsb_pairs, tmp_path / "resumed", adapter_name, resume=str(checkpoint))
    for key, value in resumed.state_dict().items():
        torch.testing.assert_close(value, state[key], atol=1e-6, rtol=0, msg=key)


def test_cross_encoder_trainer_trains_only_the_adapter(tmp_path: Path) -> None:
    checkpoint = build_tiny_classifier(tmp_path / "ce")
    model = CrossEncoder(str(checkpoint), device="cpu")
    model.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], modules_to_save=["classifier"]))
    before = {key: value.clone() for key, value in model.state_dict().items()}
    pairs = ["a man plays guitar", "someone makes music", "a dog runs", "the market fell"] * 4
    data = Dataset.from_dict({"query": pairs, "document": pairs[::-1], "label": [float(i % 2) for i in range(16)]})
    args = CrossEncoderTrainingArguments(output_dir=str(tmp_path / "out"), **_ARGS)
    CrossEncoderTrainer(model=model, args=args, train_dataset=data).train()
    changed = _changed(before, model)
    assert changed and all("lora_" in key or "modules_to_save" in key for key in changed), sorted(changed)
    files = {path.name for path in (tmp_path / "out" / "checkpoint-4").iterdir()}
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    reloaded = CrossEncoder(str(tmp_path / "out" / "checkpoint-4"), device="cpu")
    query_pairs = list(zip(pairs[:4], pairs[4:8], strict=True))
    torch.testing.assert_close(
        torch.as_tensor(reloaded.predict(query_pairs)), torch.as_tensor(model.predict(query_pairs)), atol=1e-6, rtol=0
    )


def test_gradient_checkpointing_reaches_the_adapter(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.add_adapter(_lora())
    model.gradient_checkpointing_enable({"use_reentrant": True})
    model.train()
    features = model.tokenize(["a man plays guitar", "a dog runs on the beach"])
    model(features)["sentence_embedding"].pow(2).sum().backward()
    grads = {name: param.grad for name, param in model.named_parameters() if param.requires_grad}
    assert grads and all(grad is not None and grad.abs().sum() > 0 for name, grad in grads.items() if "lora_B" in name)
