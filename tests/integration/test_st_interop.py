"""The sentence-transformers format both ways: ST 6.2 and embedforge load each other's models identically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.models import Dense, Normalize, Pooling, Transformer

st = pytest.importorskip("sentence_transformers")
st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")

pytestmark = pytest.mark.interop
ATOL = 1e-5
POOLING_MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", ("cls", "mean")]


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a - b).max())


def test_minilm_matches_sentence_transformers(minilm_path: Path, sentences: list[str]) -> None:
    ours = SentenceTransformer(str(minilm_path), device="cpu")
    theirs = st.SentenceTransformer(str(minilm_path), device="cpu")
    assert _max_diff(ours.encode(sentences), theirs.encode(sentences)) < ATOL
    assert ours.get_sentence_embedding_dimension() == 384
    assert ours.max_seq_length == theirs.max_seq_length == 256


def test_minilm_saved_by_us_loads_in_st(minilm_path: Path, sentences: list[str], tmp_path: Path) -> None:
    ours = SentenceTransformer(str(minilm_path), device="cpu")
    ours.save(tmp_path / "saved")
    reloaded = st.SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert _max_diff(ours.encode(sentences), reloaded.encode(sentences)) < ATOL
    assert reloaded.max_seq_length == 256


def test_minilm_saved_by_st_loads_in_embedforge(minilm_path: Path, sentences: list[str], tmp_path: Path) -> None:
    theirs = st.SentenceTransformer(str(minilm_path), device="cpu")
    theirs.save(str(tmp_path / "saved"))
    ours = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert _max_diff(ours.encode(sentences), theirs.encode(sentences)) < ATOL
    assert ours.max_seq_length == 256
    assert [type(module).__name__ for module in ours] == ["Transformer", "Pooling", "Normalize"]


def test_plain_transformers_checkpoint(tiny_bert_path: Path, sentences: list[str]) -> None:
    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs = st.SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert [type(module).__name__ for module in ours] == ["Transformer", "Pooling"]
    assert ours[1].pooling_mode == "mean"
    assert _max_diff(ours.encode(sentences), theirs.encode(sentences)) < ATOL


def _our_pipeline(path: Path, mode: str | tuple[str, ...]) -> SentenceTransformer:
    transformer = Transformer(str(path), max_seq_length=48)
    pooling = Pooling(transformer.get_word_embedding_dimension(), pooling_mode=mode)
    dense = Dense(pooling.get_sentence_embedding_dimension(), 16, activation_function=torch.nn.ReLU())
    return SentenceTransformer(modules=[transformer, pooling, dense, Normalize()], device="cpu")


def _st_pipeline(path: Path, mode: str | tuple[str, ...]) -> object:
    transformer = st_modules.Transformer(str(path), max_seq_length=48)
    pooling = st_modules.Pooling(transformer.get_embedding_dimension(), pooling_mode=mode)
    dense = st_modules.Dense(pooling.get_embedding_dimension(), 16, activation_function=torch.nn.ReLU())
    return st.SentenceTransformer(modules=[transformer, pooling, dense, st_modules.Normalize()], device="cpu")


@pytest.mark.parametrize("mode", POOLING_MODES, ids=str)
def test_every_pooling_mode_ours_to_st(
    tiny_bert_path: Path, sentences: list[str], tmp_path: Path, mode: str | tuple[str, ...]
) -> None:
    torch.manual_seed(0)
    ours = _our_pipeline(tiny_bert_path, mode)
    ours.save(tmp_path / "ours")
    theirs = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert [type(module).__name__ for module in theirs] == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert theirs.max_seq_length == 48
    assert _max_diff(ours.encode(sentences), theirs.encode(sentences)) < ATOL
    reloaded = SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert _max_diff(ours.encode(sentences), reloaded.encode(sentences)) < ATOL


@pytest.mark.parametrize("mode", POOLING_MODES, ids=str)
def test_every_pooling_mode_st_to_ours(
    tiny_bert_path: Path, sentences: list[str], tmp_path: Path, mode: str | tuple[str, ...]
) -> None:
    torch.manual_seed(0)
    theirs = _st_pipeline(tiny_bert_path, mode)
    theirs.save(str(tmp_path / "st"))
    ours = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert ours[1].pooling_mode == mode
    assert ours.max_seq_length == 48
    assert _max_diff(ours.encode(sentences), theirs.encode(sentences)) < ATOL


def test_prompts_excluded_from_pooling_match_st(tiny_bert_path: Path, sentences: list[str], tmp_path: Path) -> None:
    prompts = {"query": "query: what is ", "document": "passage: "}
    ours = SentenceTransformer(str(tiny_bert_path), device="cpu", prompts=prompts)
    ours.set_pooling_include_prompt(False)
    ours.save(tmp_path / "m")
    theirs = st.SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert theirs.prompts == prompts
    assert theirs[1].include_prompt is False
    for name in prompts:
        a = ours.encode(sentences, prompt_name=name)
        b = theirs.encode(sentences, prompt_name=name)
        assert _max_diff(a, b) < ATOL
    assert _max_diff(ours.encode_query(sentences), theirs.encode_query(sentences)) < ATOL
    assert _max_diff(ours.encode_document(sentences), theirs.encode_document(sentences)) < ATOL


def test_model_settings_round_trip_through_st(tiny_bert_path: Path, tmp_path: Path) -> None:
    ours = SentenceTransformer(
        str(tiny_bert_path),
        device="cpu",
        prompts={"query": "q: "},
        default_prompt_name="query",
        similarity_fn_name="dot",
    )
    ours.save(tmp_path / "m")
    theirs = st.SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert theirs.similarity_fn_name == "dot"
    assert theirs.default_prompt_name == "query"
    theirs.save(str(tmp_path / "back"))
    back = SentenceTransformer(str(tmp_path / "back"), device="cpu")
    assert back.similarity_fn_name == "dot"
    assert back.prompts["query"] == "q: "
    assert back.default_prompt_name == "query"


def test_pickled_weights_load(tiny_bert_path: Path, sentences: list[str], tmp_path: Path) -> None:
    ours = _our_pipeline(tiny_bert_path, "mean")
    ours.save(tmp_path / "bin", safe_serialization=False)
    assert (tmp_path / "bin" / "2_Dense" / "pytorch_model.bin").is_file()
    back = SentenceTransformer(str(tmp_path / "bin"), device="cpu")
    theirs = st.SentenceTransformer(str(tmp_path / "bin"), device="cpu")
    assert _max_diff(ours.encode(sentences), back.encode(sentences)) < ATOL
    assert _max_diff(ours.encode(sentences), theirs.encode(sentences)) < ATOL
