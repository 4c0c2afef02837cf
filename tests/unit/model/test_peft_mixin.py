"""PeftAdapterMixin: sentence-transformers 6.2's adapter methods, on peft's own API, for both model families."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from embedforge import SentenceTransformer
from embedforge.cross_encoder import CrossEncoder
from embedforge.models import Pooling, StaticEmbedding
from model_builders import build_tiny_classifier

LoraConfig = pytest.importorskip("peft").LoraConfig


def _lora(**kwargs: object) -> LoraConfig:
    return LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": ["query", "value"], **kwargs})


def _trainable(model: torch.nn.Module) -> dict[str, int]:
    return {name: param.numel() for name, param in model.named_parameters() if param.requires_grad}


@pytest.fixture
def model(tiny_bert_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_bert_path), device="cpu")


def test_add_adapter_injects_in_place_and_freezes_the_base(model: SentenceTransformer, sentences: list[str]) -> None:
    inner = model.transformers_model
    before = model.encode(sentences, convert_to_tensor=True)
    model.add_adapter(_lora())
    assert model.transformers_model is inner and type(inner).__name__ == "BertModel"
    assert list(inner.peft_config) == ["default"] and inner._hf_peft_config_loaded
    # 2 layers x {query, value} x (A: 4x32, B: 32x4)
    trainable = _trainable(model)
    assert sum(trainable.values()) == 2 * 2 * (4 * 32 + 32 * 4)
    assert all(".lora_" in name for name in trainable)
    assert model.active_adapters() == ["default"] and model.active_adapter() == "default"
    assert inner.peft_config["default"].base_model_name_or_path == inner.name_or_path
    # LoRA B starts at zero: the adapter does not change the embeddings until trained.
    torch.testing.assert_close(model.encode(sentences, convert_to_tensor=True), before)


def test_multiple_adapters_switch_disable_and_delete(model: SentenceTransformer, sentences: list[str]) -> None:
    base = model.encode(sentences, convert_to_tensor=True)
    model.add_adapter(_lora(init_lora_weights=False))
    first = model.encode(sentences, convert_to_tensor=True)
    model.add_adapter(_lora(init_lora_weights=False, target_modules=["key"]), adapter_name="second")
    assert model.active_adapters() == ["second"]
    assert all(".second." in name for name in _trainable(model))
    second = model.encode(sentences, convert_to_tensor=True)
    assert not torch.allclose(first, base) and not torch.allclose(second, first)
    model.set_adapter("default")
    assert model.active_adapters() == ["default"] and all(".default." in name for name in _trainable(model))
    torch.testing.assert_close(model.encode(sentences, convert_to_tensor=True), first)
    model.disable_adapters()
    torch.testing.assert_close(model.encode(sentences, convert_to_tensor=True), base)
    model.enable_adapters()
    torch.testing.assert_close(model.encode(sentences, convert_to_tensor=True), first)
    model.delete_adapter("second")
    assert list(model.transformers_model.peft_config) == ["default"] and model.active_adapters() == ["default"]
    model.delete_adapter("default")
    assert "peft_config" not in model.transformers_model.__dict__
    with pytest.raises(ValueError, match="No adapter loaded"):
        model.active_adapters()


def test_get_adapter_state_dict_holds_one_adapter(model: SentenceTransformer) -> None:
    model.add_adapter(_lora())
    model.add_adapter(_lora(r=2), adapter_name="small")
    small = model.get_adapter_state_dict()
    assert small["encoder.layer.0.attention.self.query.lora_A.weight"].shape == (2, 32)
    default = model.get_adapter_state_dict("default")
    assert len(default) == 8 and default["encoder.layer.1.attention.self.value.lora_B.weight"].shape == (32, 4)


def test_errors_name_the_problem(model: SentenceTransformer) -> None:
    with pytest.raises(ValueError, match="No adapter loaded"):
        model.set_adapter("default")
    with pytest.raises(TypeError, match=r"peft.PeftConfig"):
        model.add_adapter({"r": 4})
    model.add_adapter(_lora())
    with pytest.raises(ValueError, match="already exists"):
        model.add_adapter(_lora())
    with pytest.raises(ValueError, match=r"Unknown adapter\(s\) \['nope'\]"):
        model.set_adapter("nope")
    with pytest.raises(ValueError, match="Cannot delete unknown"):
        model.delete_adapter(["default", "nope"])
    assert model.active_adapters() == ["default"]


def test_models_without_transformer_are_not_peft_compatible() -> None:
    tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    static = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=4), Pooling(4)], device="cpu")
    assert not static.has_peft_compatible_model()
    with pytest.raises(ValueError, match="need a model with a Transformer module"):
        static.add_adapter(_lora())
    with pytest.raises(ValueError, match="need a model with a Transformer module"):
        static.active_adapters()


def test_missing_peft_names_the_extra(model: SentenceTransformer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match=r'pip install "embedforge\[peft\]"'):
        model.add_adapter(object())


def test_cross_encoder_gets_the_same_methods(tmp_path: Path) -> None:
    model = CrossEncoder(str(build_tiny_classifier(tmp_path / "ce")), device="cpu")
    assert model.has_peft_compatible_model()
    model.add_adapter(_lora(modules_to_save=["classifier"]))
    trainable = _trainable(model)
    assert any("classifier.modules_to_save.default" in name for name in trainable)
    assert all(".lora_" in name or "modules_to_save" in name for name in trainable)
    assert model.active_adapters() == ["default"]


def test_load_adapter_from_a_folder_and_from_tensors(model: SentenceTransformer, tmp_path: Path) -> None:
    model.add_adapter(_lora(init_lora_weights=False))
    model.save(str(tmp_path / "saved"))
    weights = model.get_adapter_state_dict()
    model.load_adapter(str(tmp_path / "saved"), adapter_name="copy")
    assert sorted(model.transformers_model.peft_config) == ["copy", "default"]
    assert model.active_adapters() == ["copy"]
    assert not _trainable(model), "is_trainable=False (the default) freezes the loaded adapter"
    for key, value in model.get_adapter_state_dict("copy").items():
        torch.testing.assert_close(value, weights[key])
    model.set_adapter("copy")
    assert sum(_trainable(model).values()) == 1024, "set_adapter makes the active adapter trainable again"
    model.load_adapter(
        adapter_name="given", peft_config=_lora(), adapter_state_dict=dict(weights.items()), is_trainable=True
    )
    assert sum(size for name, size in _trainable(model).items() if ".given." in name) == 1024
    with pytest.raises(ValueError, match="needs peft_model_id"):
        model.load_adapter(adapter_name="x", peft_config=_lora())


def test_hotswap_replaces_weights_in_place(model: SentenceTransformer, sentences: list[str]) -> None:
    model.add_adapter(_lora())
    before = model.encode(sentences, convert_to_tensor=True)
    generator = torch.Generator().manual_seed(0)
    swapped = {
        key: torch.randn(value.shape, generator=generator) for key, value in model.get_adapter_state_dict().items()
    }
    model.load_adapter(adapter_name="default", peft_config=_lora(), adapter_state_dict=swapped, hotswap=True)
    assert list(model.transformers_model.peft_config) == ["default"]
    torch.testing.assert_close(model.get_adapter_state_dict(), swapped)
    assert not torch.allclose(model.encode(sentences, convert_to_tensor=True), before)
    with pytest.raises(ValueError, match="no such adapter"):
        model.load_adapter(adapter_name="other", peft_config=_lora(), adapter_state_dict=swapped, hotswap=True)
