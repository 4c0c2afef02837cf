"""StaticEmbedding against sentence-transformers 6.2: tokenization, forward, save layout and loading both ways."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.normalizers import Lowercase
from tokenizers.pre_tokenizers import Whitespace

from embedforge.io.layout import ModuleEntry
from embedforge.io.load import load_entries
from embedforge.io.registry import type_name_of
from embedforge.models.base import LoadContext
from embedforge.models.static_embedding import StaticEmbedding, fold_model2vec_weights

pytestmark = pytest.mark.interop

WORDS = [
    "the",
    "a",
    "man",
    "woman",
    "dog",
    "plays",
    "playing",
    "guitar",
    "runs",
    "on",
    "beach",
    "what",
    "is",
    "capital",
    "?",
    ".",
    "quick",
    "brown",
    "fox",
]
TEXTS = ["A man is playing a guitar.", "", "What is the capital?", "unknownword dog dog", "the"]
DIM = 6


def make_tokenizer() -> Tokenizer:
    """A lowercasing word-level tokenizer over a few words; unknown words map to [UNK] (id 1)."""
    vocab = {token: index for index, token in enumerate(["[PAD]", "[UNK]", *WORDS])}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = Lowercase()
    tokenizer.pre_tokenizer = Whitespace()
    return tokenizer


def copy_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    return Tokenizer.from_str(tokenizer.to_str())


@pytest.fixture
def weights() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(make_tokenizer().get_vocab_size(), DIM, generator=generator)


@pytest.fixture
def ours(weights: torch.Tensor) -> StaticEmbedding:
    return StaticEmbedding(make_tokenizer(), embedding_weights=weights.clone())


@pytest.fixture
def st_static(weights: torch.Tensor):
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding as STStaticEmbedding

    return STStaticEmbedding(make_tokenizer(), embedding_weights=weights.clone())


def embed(module, features: dict) -> torch.Tensor:
    with torch.no_grad():
        return module(features)["sentence_embedding"]


def assert_same_features(ours_features: dict, st_features: dict) -> None:
    assert ours_features.keys() == st_features.keys()
    for key, value in st_features.items():
        assert torch.equal(ours_features[key], value), key
        assert ours_features[key].dtype == value.dtype, key


# ------------------------------------------------------------------ behaviour
@pytest.mark.parametrize("texts", [TEXTS, ["one"], []])
def test_tokenize_matches_sentence_transformers(ours: StaticEmbedding, st_static, texts: list[str]) -> None:
    assert_same_features(ours.tokenize(texts), st_static.preprocess(texts))


def test_tokenize_layout_is_flat_ids_and_offsets(ours: StaticEmbedding) -> None:
    features = ours.tokenize(["the dog", "", "dog"])
    assert features["input_ids"].tolist() == [2, 6, 6]
    assert features["offsets"].tolist() == [0, 2, 2]


def test_forward_matches_sentence_transformers(ours: StaticEmbedding, st_static) -> None:
    expected = embed(st_static, st_static.preprocess(TEXTS))
    actual = embed(ours, ours.tokenize(TEXTS))
    assert actual.shape == (len(TEXTS), DIM)
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    assert torch.count_nonzero(actual[1]) == 0  # the empty text embeds as zeros


def test_forward_is_the_mean_of_token_vectors(ours: StaticEmbedding, weights: torch.Tensor) -> None:
    actual = embed(ours, ours.tokenize(["the dog dog"]))[0]
    torch.testing.assert_close(actual, (weights[2] + 2 * weights[6]) / 3)


def test_prompt_is_prepended_without_prompt_length(ours: StaticEmbedding, st_static) -> None:
    features = ours.preprocess(["dog runs"], prompt="what is ")
    assert_same_features(features, st_static.preprocess(["dog runs"], prompt="what is "))
    assert "prompt_length" not in features


def test_accepts_a_transformers_fast_tokenizer(weights: torch.Tensor, ours: StaticEmbedding) -> None:
    from transformers import PreTrainedTokenizerFast

    hf_tokenizer = PreTrainedTokenizerFast(tokenizer_object=make_tokenizer(), unk_token="[UNK]")
    module = StaticEmbedding(hf_tokenizer, embedding_weights=weights.clone())
    assert isinstance(module.tokenizer, Tokenizer)
    assert_same_features(module.tokenize(TEXTS), ours.tokenize(TEXTS))


def test_random_init_from_embedding_dim_and_numpy_weights() -> None:
    module = StaticEmbedding(make_tokenizer(), embedding_dim=4)
    assert module.embedding.weight.shape == (make_tokenizer().get_vocab_size(), 4)
    assert module.get_sentence_embedding_dimension() == module.get_embedding_dimension() == 4
    assert module.num_embeddings == make_tokenizer().get_vocab_size()
    assert module.max_seq_length is None
    numpy_weights = np.ones((module.num_embeddings, 3), dtype=np.float32)
    from_numpy = StaticEmbedding(make_tokenizer(), embedding_weights=numpy_weights, base_model="some/model")
    assert from_numpy.embedding_dim == 3 and from_numpy.base_model == "some/model"
    assert from_numpy.embedding.weight.requires_grad


def test_gradients_reach_the_embedding(ours: StaticEmbedding) -> None:
    ours(ours.tokenize(["the dog"]))["sentence_embedding"].sum().backward()
    assert ours.embedding.weight.grad is not None
    assert torch.count_nonzero(ours.embedding.weight.grad.abs().sum(dim=1)) == 2


def test_constructor_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="fast"):
        StaticEmbedding("not a tokenizer", embedding_dim=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"embedding_weights .* or embedding_dim"):
        StaticEmbedding(make_tokenizer())


# ----------------------------------------------------------------- save / load
def test_save_layout_is_sentence_transformers(ours: StaticEmbedding, weights: torch.Tensor, tmp_path: Path) -> None:
    ours.save(tmp_path / "safe")
    assert sorted(p.name for p in (tmp_path / "safe").iterdir()) == ["model.safetensors", "tokenizer.json"]
    state = load_file(str(tmp_path / "safe" / "model.safetensors"))
    assert list(state) == ["embedding.weight"]
    torch.testing.assert_close(state["embedding.weight"], weights)
    ours.save(tmp_path / "pickle", safe_serialization=False)
    assert sorted(p.name for p in (tmp_path / "pickle").iterdir()) == ["pytorch_model.bin", "tokenizer.json"]


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_ours_saved_loads_in_sentence_transformers(
    ours: StaticEmbedding, tmp_path: Path, safe_serialization: bool
) -> None:
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding as STStaticEmbedding

    ours.save(tmp_path, safe_serialization=safe_serialization)
    loaded = STStaticEmbedding.load(str(tmp_path))
    assert_same_features(ours.tokenize(TEXTS), loaded.preprocess(TEXTS))
    torch.testing.assert_close(embed(loaded, loaded.preprocess(TEXTS)), embed(ours, ours.tokenize(TEXTS)))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_sentence_transformers_saved_loads_in_ours(st_static, tmp_path: Path, safe_serialization: bool) -> None:
    st_static.save(str(tmp_path), safe_serialization=safe_serialization)
    loaded = StaticEmbedding.load(tmp_path, LoadContext())
    assert_same_features(loaded.tokenize(TEXTS), st_static.preprocess(TEXTS))
    torch.testing.assert_close(embed(loaded, loaded.tokenize(TEXTS)), embed(st_static, st_static.preprocess(TEXTS)))


def test_whole_model_folders_round_trip_with_sentence_transformers(
    ours: StaticEmbedding, st_static, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    SentenceTransformer(modules=[st_static], device="cpu").save(str(tmp_path / "st"), create_model_card=False)
    [(entry, loaded)] = load_entries(tmp_path / "st", LoadContext())
    assert isinstance(loaded, StaticEmbedding) and entry.path == ""
    torch.testing.assert_close(embed(loaded, loaded.tokenize(TEXTS)), embed(st_static, st_static.preprocess(TEXTS)))

    folder = tmp_path / "ours"
    ours.save(folder)
    entry = ModuleEntry(idx=0, name="0", path="", type=type_name_of(ours))
    (folder / "modules.json").write_text(json.dumps([entry.to_json()]), encoding="utf-8")
    st_model = SentenceTransformer(str(folder), device="cpu")
    expected = embed(ours, ours.tokenize(TEXTS))
    torch.testing.assert_close(st_model.encode(TEXTS, convert_to_tensor=True), expected)


def test_load_errors_are_clear(ours: StaticEmbedding, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
        StaticEmbedding.load(tmp_path, LoadContext())
    ours.tokenizer.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match=r"model\.safetensors or pytorch_model\.bin"):
        StaticEmbedding.load(tmp_path, LoadContext())
    save_file({"other": torch.zeros(2, 2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"'embedding\.weight'.*'embeddings'"):
        StaticEmbedding.load(tmp_path, LoadContext())


# -------------------------------------------------------------------- model2vec
def test_model2vec_folder_loads_like_sentence_transformers(tmp_path: Path) -> None:
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding as STStaticEmbedding

    vocab_size = make_tokenizer().get_vocab_size()
    generator = torch.Generator().manual_seed(1)
    save_file(
        {
            "embeddings": torch.randn(5, DIM, generator=generator),
            "mapping": torch.randint(0, 5, (vocab_size,), generator=generator),
            "weights": torch.rand(vocab_size, generator=generator),
        },
        str(tmp_path / "model.safetensors"),
    )
    make_tokenizer().save(str(tmp_path / "tokenizer.json"))
    ours = StaticEmbedding.load(tmp_path, LoadContext())
    reference = STStaticEmbedding.load(str(tmp_path))
    torch.testing.assert_close(ours.embedding.weight, reference.embedding.weight)
    torch.testing.assert_close(embed(ours, ours.tokenize(TEXTS)), embed(reference, reference.preprocess(TEXTS)))


def test_fold_model2vec_weights_formula() -> None:
    embeddings = torch.arange(6.0).reshape(3, 2)
    folded = fold_model2vec_weights(embeddings, np.array([2, 0]), np.array([0.5, 2.0]))
    torch.testing.assert_close(folded, torch.tensor([[2.0, 2.5], [0.0, 2.0]]))
    torch.testing.assert_close(fold_model2vec_weights(embeddings), embeddings)


def test_model2vec_methods_need_model2vec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "model2vec", None)  # makes the import fail even if it were installed
    monkeypatch.setitem(sys.modules, "model2vec.distill", None)
    with pytest.raises(ImportError, match=r"pip install model2vec`"):
        StaticEmbedding.from_model2vec("minishlab/potion-base-8M")
    with pytest.raises(ImportError, match=r"pip install model2vec\[distill\]"):
        StaticEmbedding.from_distillation("some/model")


def test_model2vec_methods_convert_a_static_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """model2vec is not installable here: a stand-in module with model2vec's documented attributes."""
    vocab_size = make_tokenizer().get_vocab_size()
    static_model = types.SimpleNamespace(
        tokenizer=make_tokenizer(),
        embedding=np.ones((vocab_size, 3), dtype=np.float32),
        weights=np.full(vocab_size, 2.0, dtype=np.float32),
    )
    calls: list[tuple[str, dict]] = []

    def distill(model_name: str, vocabulary: list[str] | None = None, pca_dims: int | None = 256) -> object:
        calls.append((model_name, {"vocabulary": vocabulary, "pca_dims": pca_dims}))
        return static_model

    fake = types.ModuleType("model2vec")
    fake.StaticModel = types.SimpleNamespace(from_pretrained=lambda _name: static_model)
    fake_distill = types.ModuleType("model2vec.distill")
    fake_distill.distill = distill
    monkeypatch.setitem(sys.modules, "model2vec", fake)
    monkeypatch.setitem(sys.modules, "model2vec.distill", fake_distill)

    module = StaticEmbedding.from_model2vec("some/m2v")
    assert module.base_model == "some/m2v"
    torch.testing.assert_close(module.embedding.weight, torch.full((vocab_size, 3), 2.0))
    distilled = StaticEmbedding.from_distillation("some/bert", pca_dims=3, device="cpu")
    assert calls == [("some/bert", {"vocabulary": None, "pca_dims": 3})]  # unsupported 'device' etc. dropped
    assert distilled.base_model == "some/bert"
