"""Adapters interoperate with sentence-transformers 6.2: same files, same keys, same trainable parameters.

sentence-transformers forwards its adapter methods to transformers, which refuses the installed peft (older than
its ``MIN_PEFT_VERSION``); the constant is lowered inside each test only, so that the reference runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

from embedforge import SentenceTransformer
from embedforge.cross_encoder import CrossEncoder
from model_builders import build_tiny_classifier

LoraConfig = pytest.importorskip("peft").LoraConfig

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def _allow_installed_peft(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.integrations.peft

    monkeypatch.setattr(transformers.integrations.peft, "MIN_PEFT_VERSION", "0.21.0")


def _lora(**kwargs: object) -> LoraConfig:
    return LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": ["query", "value"], **kwargs})


def _trainable(model: torch.nn.Module) -> int:
    return sum(param.numel() for param in model.parameters() if param.requires_grad)


def _file_keys(folder: Path) -> tuple[list[str], dict[str, str]]:
    with safe_open(str(folder / "adapter_model.safetensors"), "pt") as handle:
        return sorted(handle.keys()), handle.metadata()


def _files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def _adapter_config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))


def test_st_adapter_folder_loads_in_embedforge_and_back(
    tiny_bert_path: Path, tmp_path: Path, sentences: list[str]
) -> None:
    import sentence_transformers as st

    torch.manual_seed(0)
    theirs = st.SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs.add_adapter(_lora(init_lora_weights=False))
    theirs.save(str(tmp_path / "st"))
    expected = theirs.encode(sentences, convert_to_tensor=True)

    ours = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert ours.active_adapters() == ["default"]
    assert torch.equal(ours.encode(sentences, convert_to_tensor=True), expected)
    assert _trainable(ours) == _trainable(st.SentenceTransformer(str(tmp_path / "st"), device="cpu")) == 0

    ours.save(str(tmp_path / "ours"))
    again = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert again.active_adapters() == ["default"]
    assert torch.equal(again.encode(sentences, convert_to_tensor=True), expected)


def test_saved_folders_match_file_for_file(tiny_bert_path: Path, tmp_path: Path) -> None:
    import sentence_transformers as st

    theirs = st.SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs.add_adapter(_lora())
    theirs.save(str(tmp_path / "st"))
    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    ours.add_adapter(_lora())
    ours.save(str(tmp_path / "ours"))

    assert _files(tmp_path / "ours") == _files(tmp_path / "st")
    assert "config.json" not in _files(tmp_path / "ours") and "model.safetensors" not in _files(tmp_path / "ours")
    assert _file_keys(tmp_path / "ours") == _file_keys(tmp_path / "st")
    assert _file_keys(tmp_path / "ours")[0][0] == "base_model.model.encoder.layer.0.attention.self.query.lora_A.weight"
    assert _adapter_config(tmp_path / "ours") == _adapter_config(tmp_path / "st")
    assert _adapter_config(tmp_path / "ours")["base_model_name_or_path"] == str(tiny_bert_path)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"r": 8, "lora_alpha": 16, "target_modules": ["query", "key", "value", "dense"]},
        {"target_modules": ["query"], "lora_dropout": 0.1, "bias": "lora_only"},
    ],
    ids=["qv-r4", "qkvd-r8", "q-bias"],
)
def test_trainable_parameters_equal_st(tiny_bert_path: Path, config: dict[str, object]) -> None:
    import sentence_transformers as st

    theirs = st.SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs.add_adapter(_lora(**config))
    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    ours.add_adapter(_lora(**config))
    assert _trainable(ours) == _trainable(theirs)
    their_names = {
        name.replace("0.model.", "0.auto_model.", 1) for name, p in theirs.named_parameters() if p.requires_grad
    }
    assert {name for name, param in ours.named_parameters() if param.requires_grad} == their_names


def test_cross_encoder_adapters_match_st(tmp_path: Path) -> None:
    from sentence_transformers.cross_encoder import CrossEncoder as STCrossEncoder

    checkpoint = build_tiny_classifier(tmp_path / "ce")
    pairs = [("a man plays guitar", "someone makes music"), ("a dog runs", "the stock market fell")]
    theirs = STCrossEncoder(str(checkpoint), device="cpu")
    theirs.add_adapter(_lora(init_lora_weights=False, modules_to_save=["classifier"]))
    ours = CrossEncoder(str(checkpoint), device="cpu")
    ours.add_adapter(_lora(modules_to_save=["classifier"]))
    assert _trainable(ours) == _trainable(theirs)
    theirs.save(str(tmp_path / "st"))
    loaded = CrossEncoder(str(tmp_path / "st"), device="cpu")
    assert loaded.active_adapters() == ["default"]
    assert torch.equal(torch.as_tensor(loaded.predict(pairs)), torch.as_tensor(theirs.predict(pairs)))
    loaded.save(str(tmp_path / "ours"))
    assert _files(tmp_path / "ours") == _files(tmp_path / "st")
    assert _file_keys(tmp_path / "ours") == _file_keys(tmp_path / "st")
