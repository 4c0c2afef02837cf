"""Adapter folders: a Transformer with an adapter saves only the adapter, and such a folder loads onto its base."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.models import adapter_io

LoraConfig = pytest.importorskip("peft").LoraConfig


def _lora(**kwargs: object) -> LoraConfig:
    return LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": ["query", "value"], **kwargs})


@pytest.fixture
def adapted(tiny_bert_path: Path) -> SentenceTransformer:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.add_adapter(_lora(init_lora_weights=False))
    return model


def test_transformer_save_writes_only_the_adapter(adapted: SentenceTransformer, tmp_path: Path) -> None:
    adapted[0].save(tmp_path / "module")
    files = sorted(path.name for path in (tmp_path / "module").iterdir())
    assert files == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "sentence_bert_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((tmp_path / "module" / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["peft_type"] == "LORA" and config["r"] == 4
    assert config["base_model_name_or_path"] == adapted.transformers_model.name_or_path


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_adapter_folder_reloads_to_identical_embeddings(
    adapted: SentenceTransformer, tmp_path: Path, sentences: list[str], safe_serialization: bool
) -> None:
    adapted.save(str(tmp_path / "saved"), safe_serialization=safe_serialization)
    weights = "adapter_model.safetensors" if safe_serialization else "adapter_model.bin"
    assert (tmp_path / "saved" / weights).is_file()
    loaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert loaded.active_adapters() == ["default"]
    assert type(loaded.transformers_model).__name__ == "BertModel"
    expected = adapted.encode(sentences, convert_to_tensor=True)
    assert torch.equal(loaded.encode(sentences, convert_to_tensor=True), expected)


def test_unreachable_base_names_path_and_fix(adapted: SentenceTransformer, tmp_path: Path) -> None:
    adapted.save(str(tmp_path / "saved"))
    base = adapted.transformers_model.name_or_path
    shutil.rmtree(base)
    with pytest.raises(OSError, match=r"base model .*base_model_name_or_path") as caught:
        SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert base in str(caught.value) and str(tmp_path / "saved") in str(caught.value)


def test_non_torch_backends_refuse_adapter_folders(adapted: SentenceTransformer, tmp_path: Path) -> None:
    adapted.save(str(tmp_path / "saved"))
    with pytest.raises(ValueError, match="backend='torch'"):
        SentenceTransformer(str(tmp_path / "saved"), device="cpu", backend="onnx")


def test_several_active_adapters_cannot_be_saved_together(adapted: SentenceTransformer, tmp_path: Path) -> None:
    adapted.add_adapter(_lora(), adapter_name="second")
    adapted.set_adapter(["default", "second"])
    with pytest.raises(ValueError, match=r"Several adapters are active \(\['default', 'second'\]\)"):
        adapted.save(str(tmp_path / "saved"))
    adapted.set_adapter("second")
    adapted.save(str(tmp_path / "saved"))
    loaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    torch.testing.assert_close(loaded.get_adapter_state_dict(), adapted.get_adapter_state_dict("second"))


def test_incomplete_weights_are_refused(adapted: SentenceTransformer) -> None:
    weights = adapted.get_adapter_state_dict()
    partial = dict(list(weights.items())[:3])
    with pytest.raises(ValueError, match=r"lack 5 of the 8 tensors of adapter 'other'"):
        adapter_io.attach_adapter(adapted.transformers_model, _lora(), "other", partial)
    assert list(adapter_io.adapter_configs(adapted.transformers_model)) == ["default"], "the failed adapter is removed"
    assert not any(".other." in name for name, _ in adapted.named_parameters())


def test_folder_detection(adapted: SentenceTransformer, tiny_bert_path: Path, tmp_path: Path) -> None:
    adapted.save(str(tmp_path / "saved"))
    assert adapter_io.is_adapter_folder(tmp_path / "saved")
    assert not adapter_io.is_adapter_folder(tiny_bert_path)
    plain = SentenceTransformer(str(tiny_bert_path), device="cpu").transformers_model
    assert adapter_io.adapter_configs(plain) == {}
    assert list(adapter_io.adapter_configs(adapted.transformers_model)) == ["default"]
