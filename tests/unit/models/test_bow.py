"""BoW: same tokenize outputs, config and saved folders as sentence-transformers' BoW."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import InputModule, LoadContext
from embedforge.models.bow import BoW

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
pytestmark = pytest.mark.interop

# repeated words ("man") are dropped; case variants are distinct words; "guitar." is found as written first
VOCAB = ["A", "man", "is", "playing", "guitar", "guitar.", "man", "the", "The", "dog", "food", "query:", "park"]
WEIGHTS = {"man": 2.0, "guitar": 0.5, "the": 0.25, "a": 1.5}


def assert_same(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert set(ours) == set(theirs) == {"sentence_embedding"}
    torch.testing.assert_close(ours["sentence_embedding"], theirs["sentence_embedding"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("cumulative", [True, False])
def test_tokenize_and_forward_match_st(sentences: list[str], cumulative: bool) -> None:
    ours = BoW(VOCAB, WEIGHTS, unknown_word_weight=0.75, cumulative_term_frequency=cumulative)
    theirs = st_modules.BoW(VOCAB, WEIGHTS, unknown_word_weight=0.75, cumulative_term_frequency=cumulative)
    texts = [*sentences, "man man Man dog", ""]
    out = ours.tokenize(texts)
    assert out["sentence_embedding"].shape == (len(texts), len(set(VOCAB)))
    assert_same(out, theirs.preprocess(texts))
    assert_same(ours(ours.tokenize(texts)), theirs(theirs.preprocess(texts)))
    assert_same(ours.preprocess(texts, prompt="query: "), theirs.preprocess(texts, prompt="query: "))
    assert ours.vocab == theirs.vocab
    assert ours.weights == theirs.weights
    assert ours.get_sentence_embedding_dimension() == theirs.get_embedding_dimension() == len(set(VOCAB))


def test_is_an_input_module_saved_in_its_own_folder() -> None:
    assert isinstance(BoW(VOCAB), InputModule)
    assert BoW.save_in_root is st_modules.BoW.save_in_root is False
    assert BoW(["x"]).tokenize([])["sentence_embedding"].shape == (0, 1)


def test_save_ours_load_st(tmp_path: Path, sentences: list[str]) -> None:
    ours = BoW(VOCAB, WEIGHTS, cumulative_term_frequency=False)
    ours.save(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json"]
    assert_same(ours.tokenize(sentences), st_modules.BoW.load(str(tmp_path)).preprocess(sentences))


def test_save_st_load_ours(tmp_path: Path, sentences: list[str]) -> None:
    theirs = st_modules.BoW(VOCAB, WEIGHTS, unknown_word_weight=0.5)
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"))
    assert_same(BoW.load(tmp_path / "st", LoadContext()).tokenize(sentences), theirs.preprocess(sentences))
    BoW(VOCAB, WEIGHTS, unknown_word_weight=0.5).save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text()) == json.loads(
        (tmp_path / "st" / "config.json").read_text()
    )


def test_config_round_trip() -> None:
    config = BoW(VOCAB).get_config_dict()
    assert config == {
        "vocab": list(dict.fromkeys(VOCAB)),
        "word_weights": {},
        "unknown_word_weight": 1,
        "cumulative_term_frequency": True,
    }
    assert BoW.from_config(config).get_config_dict() == config
