"""truncate_layers: the truncated model computes the untruncated model's k-th layer path, saves and reloads as such."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from embedforge import CrossEncoder, SentenceTransformer
from embedforge.models import Pooling, Transformer, truncate_layers
from embedforge.models.layer_truncation import LAYER_STACKS
from model_builders import build_tiny_classifier, build_tokenizer_files

TEXTS = ["A man is playing a guitar.", "A dog runs on the beach near the water.", "what is the capital?"]
VOCAB_SIZE = 200  # more than the tiny WordPiece vocabulary holds


def _save_tiny(folder: Path, model_type: str, num_layers: int = 4, **extra: Any) -> Path:
    """A random tiny ``model_type`` model (hidden 32) with the tiny WordPiece tokenizer, saved to ``folder``."""
    from transformers import AutoConfig, AutoModel, T5EncoderModel

    build_tokenizer_files(folder)
    sizes: dict[str, Any] = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
    if model_type == "t5":
        sizes = {"d_model": 32, "num_heads": 2, "d_ff": 64, "d_kv": 16}
    config = AutoConfig.for_model(
        model_type, vocab_size=VOCAB_SIZE, num_hidden_layers=num_layers, pad_token_id=0, **sizes, **extra
    )
    torch.manual_seed(0)
    model = T5EncoderModel(config) if model_type == "t5" else AutoModel.from_config(config)
    model.eval().save_pretrained(str(folder))
    return folder


def _bi_encoder(path: Path) -> SentenceTransformer:
    transformer = Transformer(str(path))
    pooling = Pooling(transformer.get_word_embedding_dimension(), "mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu").eval()


def _encode(model: SentenceTransformer) -> torch.Tensor:
    return model.encode(TEXTS, convert_to_tensor=True)


@pytest.fixture
def four_layer_bert(tmp_path: Path) -> Path:
    """A plain transformers checkpoint: random 4-layer BERT with the tiny tokenizer."""
    return _save_tiny(tmp_path / "bert4", "bert")


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_output_equals_the_kth_hidden_state_through_the_same_pooling(four_layer_bert: Path, num_layers: int) -> None:
    model = _bi_encoder(four_layer_bert)
    features = model.tokenize(TEXTS)
    with torch.inference_mode():
        hidden = model[0].auto_model(**features, output_hidden_states=True).hidden_states  # 5 x (batch, seq, 32)
        expected = model[1]({**features, "token_embeddings": hidden[num_layers]})["sentence_embedding"]

    assert truncate_layers(model, num_layers) is model
    assert len(model[0].auto_model.encoder.layer) == num_layers
    assert model[0].auto_model.config.num_hidden_layers == num_layers
    torch.testing.assert_close(_encode(model), expected, rtol=1e-5, atol=1e-5)


def test_matches_sentence_transformers_manual_recipe(four_layer_bert: Path) -> None:
    from sentence_transformers import SentenceTransformer as STModel
    from sentence_transformers.models import Pooling as STPooling
    from sentence_transformers.models import Transformer as STTransformer

    st_transformer = STTransformer(str(four_layer_bert))
    st_model = STModel(modules=[st_transformer, STPooling(32, "mean")], device="cpu")
    st_model[0].auto_model.encoder.layer = st_model[0].auto_model.encoder.layer[:2]  # ST's documented recipe
    model = truncate_layers(_bi_encoder(four_layer_bert), 2)

    expected = st_model.encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(_encode(model), expected, rtol=1e-5, atol=1e-5)


def test_save_and_reload_keep_the_truncation(four_layer_bert: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as STModel

    model = truncate_layers(_bi_encoder(four_layer_bert), 2)
    expected = _encode(model)
    model.save(str(tmp_path / "saved"))

    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert len(reloaded[0].auto_model.encoder.layer) == 2
    assert reloaded[0].auto_model.config.num_hidden_layers == 2
    torch.testing.assert_close(_encode(reloaded), expected, rtol=1e-5, atol=1e-5)
    by_st = STModel(str(tmp_path / "saved"), device="cpu").encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(by_st, expected, rtol=1e-5, atol=1e-5)


def test_transformer_module_alone(four_layer_bert: Path) -> None:
    transformer = Transformer(str(four_layer_bert))
    assert truncate_layers(transformer, 3) is transformer
    assert len(transformer.auto_model.encoder.layer) == 3


def test_cross_encoder_scores_equal_a_model_loaded_with_fewer_layers(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path / "classifier")  # 2 layers
    pairs = [(TEXTS[0], TEXTS[1]), (TEXTS[2], TEXTS[0])]
    reference = CrossEncoder(str(path), device="cpu", config_kwargs={"num_hidden_layers": 1})
    model = CrossEncoder(str(path), device="cpu")
    full = model.predict(pairs, convert_to_tensor=True)

    assert truncate_layers(model, 1) is model
    assert len(model[0].auto_model.bert.encoder.layer) == 1
    truncated = model.predict(pairs, convert_to_tensor=True)
    torch.testing.assert_close(truncated, reference.predict(pairs, convert_to_tensor=True), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(truncated, full)


@pytest.mark.parametrize(
    ("model_type", "extra"),
    [
        ("distilbert", {}),
        ("t5", {}),
        ("mpnet", {}),
        ("modernbert", {"global_attn_every_n_layers": 2, "local_attention": 8}),
        ("qwen3", {"num_key_value_heads": 2, "head_dim": 16}),
    ],
)
def test_families_truncate_like_a_checkpoint_loaded_with_fewer_layers(
    tmp_path: Path, model_type: str, extra: dict[str, Any]
) -> None:
    from transformers import AutoConfig

    path = _save_tiny(tmp_path / model_type, model_type, **extra)
    transformer = Transformer(str(path)).eval()
    truncate_layers(transformer, 2)
    reference = Transformer(str(path), config_kwargs={"num_hidden_layers": 2}).eval()
    features = transformer.tokenize(TEXTS)
    with torch.inference_mode():
        ours = transformer(dict(features))["token_embeddings"]
        expected = reference(dict(features))["token_embeddings"]
    torch.testing.assert_close(ours, expected)
    assert not torch.allclose(ours, Transformer(str(path)).eval()(dict(features))["token_embeddings"])

    transformer.save(str(tmp_path / "saved"))
    config = AutoConfig.from_pretrained(str(tmp_path / "saved"))
    assert config.num_hidden_layers == 2
    layer_types = AutoConfig.from_pretrained(str(path)).to_dict().get("layer_types")
    assert config.to_dict().get("layer_types") == (layer_types[:2] if layer_types is not None else None)


def test_num_layers_below_one_is_refused(four_layer_bert: Path) -> None:
    with pytest.raises(ValueError, match="between 1 and the model's 4 layers, got 0"):
        truncate_layers(_bi_encoder(four_layer_bert), 0)


def test_more_layers_than_the_model_has_is_refused(four_layer_bert: Path) -> None:
    with pytest.raises(ValueError, match="between 1 and the model's 4 layers, got 5"):
        truncate_layers(_bi_encoder(four_layer_bert), 5)


def test_keeping_all_layers_changes_nothing(four_layer_bert: Path) -> None:
    model = _bi_encoder(four_layer_bert)
    layers = model[0].auto_model.encoder.layer
    truncate_layers(model, 4)
    assert model[0].auto_model.encoder.layer is layers


def test_non_integer_num_layers_is_refused(four_layer_bert: Path) -> None:
    with pytest.raises(TypeError, match="num_layers must be an int, got float"):
        truncate_layers(_bi_encoder(four_layer_bert), 2.0)  # type: ignore[arg-type]


def test_unknown_architecture_names_the_type_and_the_fix(tmp_path: Path) -> None:
    path = _save_tiny(tmp_path / "albert", "albert", embedding_size=32)
    assert "albert" not in LAYER_STACKS
    with pytest.raises(ValueError, match=r"model_type 'albert'.*LAYER_STACKS\[\"albert\"\] = LayerStack"):
        truncate_layers(Transformer(str(path)), 1)


def test_model_without_a_transformer_is_refused() -> None:
    with pytest.raises(TypeError, match="found SentenceTransformer starting with Pooling"):
        truncate_layers(SentenceTransformer(modules=[Pooling(8)], device="cpu"), 1)
