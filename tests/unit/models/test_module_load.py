"""Module.load takes sentence-transformers 6.2's call as well as embedforge's ``load(path, context)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.io import register_module
from embedforge.io.hub import ModelNotFoundError
from embedforge.models import Dense, Normalize, Pooling, Transformer
from embedforge.models.base import LoadContext, merge_load_options
from embedforge.models.tokenizer import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")

# What ST 6.2's model loader passes to every module's load (besides model_name_or_path).
ST_LOADER_KWARGS: dict[str, Any] = {
    "token": None,
    "cache_folder": None,
    "revision": None,
    "local_files_only": True,
    "trust_remote_code": False,
    "model_kwargs": None,
    "processor_kwargs": None,
    "config_kwargs": None,
    "backend": "torch",
}


def _embed(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return module({"sentence_embedding": x})["sentence_embedding"]


def test_dense_loads_with_st_call_and_plain_path(tmp_path: Path) -> None:
    torch.manual_seed(0)
    Dense(6, 4).save(tmp_path / "1_Dense")
    x = torch.randn(3, 6)
    theirs = st_modules.Dense.load(str(tmp_path), subfolder="1_Dense", **ST_LOADER_KWARGS)
    ours = Dense.load(str(tmp_path), subfolder="1_Dense", **ST_LOADER_KWARGS)
    assert type(ours) is Dense
    torch.testing.assert_close(_embed(ours, x), _embed(theirs, x))
    torch.testing.assert_close(_embed(Dense.load(str(tmp_path / "1_Dense")), x), _embed(theirs, x))
    torch.testing.assert_close(_embed(Dense.load(tmp_path / "1_Dense", LoadContext()), x), _embed(theirs, x))


def test_word_embeddings_load_with_st_call_and_plain_path(tmp_path: Path) -> None:
    vocab = ["PADDING_TOKEN", "a", "dog", "runs"]
    weights = torch.randn(len(vocab), 3, generator=torch.Generator().manual_seed(0))
    WordEmbeddings(WhitespaceTokenizer(vocab), weights).save(tmp_path / "0_WordEmbeddings")
    theirs = st_modules.WordEmbeddings.load(str(tmp_path), subfolder="0_WordEmbeddings", **ST_LOADER_KWARGS)
    for ours in (
        WordEmbeddings.load(str(tmp_path), subfolder="0_WordEmbeddings", **ST_LOADER_KWARGS),
        WordEmbeddings.load(str(tmp_path / "0_WordEmbeddings")),
    ):
        torch.testing.assert_close(ours.emb_layer.weight, theirs.emb_layer.weight)
        assert ours.tokenizer.vocab == theirs.tokenizer.vocab


def test_generic_modules_load_with_st_call(tmp_path: Path) -> None:
    Pooling(8, pooling_mode="max").save(tmp_path / "1_Pooling")
    loaded = Pooling.load(str(tmp_path), subfolder="1_Pooling", **ST_LOADER_KWARGS)
    theirs = st_modules.Pooling.load(str(tmp_path), subfolder="1_Pooling", **ST_LOADER_KWARGS)
    assert loaded.pooling_mode == theirs.pooling_mode == "max"
    assert isinstance(Normalize.load(str(tmp_path), subfolder="2_Normalize"), Normalize)  # no folder, as ST


def test_transformer_takes_st_loading_options(tiny_bert_path: Path) -> None:
    module = Transformer.load(
        str(tiny_bert_path.parent),
        subfolder=tiny_bert_path.name,
        **{**ST_LOADER_KWARGS, "processor_kwargs": {"model_max_length": 9}, "model_kwargs": {}},
    )
    assert module.tokenizer.model_max_length == 9
    assert module.max_seq_length == 9


def test_keyword_options_override_the_context() -> None:
    context = LoadContext(trust_remote_code=True, revision="main", tokenizer_kwargs={"a": 1})
    merged = merge_load_options(
        context, {"revision": "v2", "processor_kwargs": {"b": 2}, "model_kwargs": None}, local_files_only=True
    )
    assert merged == LoadContext(
        trust_remote_code=True, revision="v2", tokenizer_kwargs={"b": 2}, local_files_only=True
    )
    assert merge_load_options(None, {}) == LoadContext()


def test_unknown_keyword_is_a_clear_error(tmp_path: Path) -> None:
    Dense(2, 2).save(tmp_path)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['colour'\].*processor_kwargs"):
        Dense.load(str(tmp_path), colour="red")


def test_missing_local_model_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        Dense.load(str(tmp_path / "missing" / "deeper" / "model"))


class _StStyleScale(Normalize):
    """A custom module written against ST's load signature (keyword options, ``**kwargs``)."""

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> _StStyleScale:
        config = json.loads((Path(model_name_or_path) / subfolder / "config.json").read_text(encoding="utf-8"))
        assert isinstance(kwargs["context"], LoadContext)
        return cls(**config)


def test_loader_calls_custom_st_style_load(tiny_bert_path: Path, tmp_path: Path) -> None:
    register_module("my_package.StStyleScale", _StStyleScale)
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.append(_StStyleScale())
    model.save(tmp_path / "m")
    back = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert type(back[-1]) is _StStyleScale
