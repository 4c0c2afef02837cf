"""Word tokenizers of WordEmbeddings: same indices and files as sentence-transformers' tokenizers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from embedforge.models.tokenizer import (
    ENGLISH_STOP_WORDS,
    PhraseTokenizer,
    TransformersTokenizerWrapper,
    WhitespaceTokenizer,
    resolve_tokenizer_class,
)

st_tokenizers = pytest.importorskip("sentence_transformers.sentence_transformer.modules.tokenizer")
pytestmark = pytest.mark.interop

HAS_NLTK = importlib.util.find_spec("nltk") is not None
VOCAB = ["PAD", "man", "Man", "guitar", "guitar.", "dog", "the", "New_York", "new_york_city", "York", "is", "", "a"]
TEXTS = [
    "A man is playing a guitar.",
    "The MAN, the dog!!! and (guitar)",
    "He moved to New York City; new York is big.",
    "--- ... !!",
    "",
]


@pytest.mark.parametrize(
    "settings", [{}, {"stop_words": []}, {"do_lower_case": True}, {"stop_words": ["man"], "do_lower_case": True}]
)
def test_whitespace_matches_st(sentences: list[str], settings: dict) -> None:
    ours = WhitespaceTokenizer(VOCAB, **settings)
    theirs = st_tokenizers.WhitespaceTokenizer(VOCAB, **settings)
    for text in [*sentences, *TEXTS]:
        assert ours.tokenize(text) == theirs.tokenize(text), text


def test_stop_words_are_st_list() -> None:
    assert list(ENGLISH_STOP_WORDS) == list(st_tokenizers.ENGLISH_STOP_WORDS)


def test_whitespace_files_load_both_ways(tmp_path: Path, sentences: list[str]) -> None:
    ours = WhitespaceTokenizer(VOCAB, stop_words=["a", "is"], do_lower_case=True)
    ours.save(tmp_path)
    saved = json.loads((tmp_path / "whitespacetokenizer_config.json").read_text())
    assert saved == {"vocab": VOCAB, "stop_words": ["a", "is"], "do_lower_case": True}
    theirs = st_tokenizers.WhitespaceTokenizer.load(str(tmp_path))
    back = WhitespaceTokenizer.load(tmp_path)
    for text in sentences:
        assert ours.tokenize(text) == theirs.tokenize(text) == back.tokenize(text)


def test_repeated_vocab_words_keep_their_indices(tmp_path: Path) -> None:
    tokenizer = WhitespaceTokenizer(["PAD", "dog", "cat", "dog", "fox"])
    assert tokenizer.tokenize("dog fox") == [3, 4]
    tokenizer.save(tmp_path)
    assert WhitespaceTokenizer.load(tmp_path).tokenize("dog fox") == [3, 4]
    assert st_tokenizers.WhitespaceTokenizer.load(str(tmp_path)).tokenize("dog fox") == [3, 4]


def test_phrase_vocab_and_files(tmp_path: Path) -> None:
    ours = PhraseTokenizer(VOCAB, max_ngram_length=2)
    assert ours.ngram_lookup == {"New_York"}
    assert ours.ngram_lengths == {2}
    assert PhraseTokenizer(VOCAB).ngram_lengths == {2, 3}
    ours.save(tmp_path)
    saved = json.loads((tmp_path / "phrasetokenizer_config.json").read_text())
    assert set(saved) == {"vocab", "stop_words", "do_lower_case", "ngram_separator", "max_ngram_length"}
    back = PhraseTokenizer.load(tmp_path)
    assert (back.vocab, back.stop_words, back.ngram_lookup) == (ours.vocab, ours.stop_words, ours.ngram_lookup)


@pytest.mark.skipif(not HAS_NLTK, reason="PhraseTokenizer.tokenize needs nltk (ST's PhraseTokenizer needs it to exist)")
@pytest.mark.parametrize("settings", [{}, {"stop_words": []}, {"max_ngram_length": 2}, {"ngram_separator": None}])
def test_phrase_matches_st(tmp_path: Path, sentences: list[str], settings: dict) -> None:
    ours = PhraseTokenizer(VOCAB, **settings)
    theirs = st_tokenizers.PhraseTokenizer(VOCAB, **settings)
    for text in [*sentences, *TEXTS]:
        assert ours.tokenize(text) == theirs.tokenize(text), text
    ours.save(tmp_path)
    loaded = st_tokenizers.PhraseTokenizer.load(str(tmp_path))
    assert [loaded.tokenize(text) for text in TEXTS] == [ours.tokenize(text) for text in TEXTS]


@pytest.mark.skipif(HAS_NLTK, reason="checks the error raised without nltk")
def test_phrase_without_nltk_says_what_to_install() -> None:
    with pytest.raises(ImportError, match="pip install nltk"):
        PhraseTokenizer(VOCAB).tokenize("New York")


def test_resolve_tokenizer_class_by_name_only() -> None:
    for cls in (WhitespaceTokenizer, PhraseTokenizer, TransformersTokenizerWrapper):
        assert resolve_tokenizer_class(cls.st_name) is cls
        assert resolve_tokenizer_class(f"embedforge.models.tokenizer.{cls.__name__}") is cls
    legacy = "sentence_transformers.models.tokenizer.PhraseTokenizer.PhraseTokenizer"
    assert resolve_tokenizer_class(legacy) is PhraseTokenizer
    st_names = {
        st_tokenizers.WhitespaceTokenizer: WhitespaceTokenizer,
        st_tokenizers.PhraseTokenizer: PhraseTokenizer,
        st_tokenizers.TransformersTokenizerWrapper: TransformersTokenizerWrapper,
    }
    for st_cls, cls in st_names.items():
        assert cls.st_name == f"{st_cls.__module__}.{st_cls.__name__}"
    for bad in ("WhitespaceTokenizer", "os.system", "sentence_transformers.Unknown"):
        with pytest.raises(ValueError, match="Known word tokenizers"):
            resolve_tokenizer_class(bad)
