"""WordEmbeddings: same tokenize/forward outputs, config and saved folders as sentence-transformers'."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from embedforge.models.base import InputModule, LoadContext
from embedforge.models.tokenizer import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings

st_modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
st_tokenizers = pytest.importorskip("sentence_transformers.sentence_transformer.modules.tokenizer")
pytestmark = pytest.mark.interop

VOCAB = [
    "PADDING_TOKEN", "man", "woman", "playing", "guitar", "eating", "food", "outside", "quick", "brown", "fox",
    "jumps", "lazy", "dog", "children", "park", "water", "runs", "beach", "capital", "old", "sits", "big", "red",
    "table", "plays", "music", "young", "people", "house", "Dog", "The", "the", "A",
]  # fmt: skip
DIM = 5
ST_WHITESPACE = "sentence_transformers.sentence_transformer.modules.tokenizer.whitespace.WhitespaceTokenizer"


def embedding_matrix() -> torch.Tensor:
    return torch.randn(len(VOCAB), DIM, generator=torch.Generator().manual_seed(0))


TOKENIZER_SETTINGS = [{}, {"stop_words": [], "do_lower_case": True}]


def make_pair(settings: dict, **kwargs: object) -> tuple[WordEmbeddings, torch.nn.Module]:
    ours = WordEmbeddings(WhitespaceTokenizer(VOCAB, **settings), embedding_matrix(), **kwargs)
    st_tokenizer = st_tokenizers.WhitespaceTokenizer(VOCAB, **settings)
    theirs = st_modules.WordEmbeddings(st_tokenizer, embedding_matrix(), **kwargs)
    return ours, theirs


def assert_same(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor | None]) -> None:
    expected = {key: value for key, value in theirs.items() if value is not None}  # ST adds cls_token_embeddings=None
    assert set(ours) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(ours[key], value, atol=1e-6, rtol=0)


def encode(module: torch.nn.Module, texts: list[str], st: bool) -> dict[str, torch.Tensor]:
    features = module.preprocess(texts) if st else module.tokenize(texts)
    with torch.no_grad():
        return module(features)


@pytest.mark.parametrize("settings", TOKENIZER_SETTINGS, ids=["default", "lowercase-no-stopwords"])
def test_tokenize_and_forward_match_st(sentences: list[str], settings: dict) -> None:
    ours, theirs = make_pair(settings)
    texts = [*sentences, "nothing known here", ""]
    features = ours.tokenize(texts)
    assert_same(features, theirs.preprocess(texts))
    expected_shape = (len(texts), max(features["sentence_lengths"]))
    assert features["input_ids"].shape == features["attention_mask"].shape == expected_shape
    assert_same(encode(ours, texts, st=False), encode(theirs, texts, st=True))
    assert_same(ours.preprocess(texts, prompt="The dog: "), theirs.preprocess(texts, prompt="The dog: "))
    assert ours.get_embedding_dimension() == theirs.get_embedding_dimension() == DIM
    assert set(ours.state_dict()) == set(theirs.state_dict()) == {"emb_layer.weight"}


def test_max_seq_length_and_update_embeddings(sentences: list[str]) -> None:
    ours, theirs = make_pair({}, update_embeddings=True, max_seq_length=2)
    assert_same(ours.tokenize(sentences), theirs.preprocess(sentences))
    assert ours.emb_layer.weight.requires_grad
    ours.max_seq_length = 3
    theirs.max_seq_length = 3
    assert_same(ours.tokenize(sentences), theirs.preprocess(sentences))
    frozen = WordEmbeddings(WhitespaceTokenizer(VOCAB), embedding_matrix())
    assert not frozen.emb_layer.weight.requires_grad
    assert isinstance(frozen, InputModule)
    assert frozen.tokenize([])["input_ids"].shape == (0, 1)


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_ours_load_st(tmp_path: Path, sentences: list[str], safe_serialization: bool) -> None:
    ours, _ = make_pair({"do_lower_case": True}, max_seq_length=7)
    ours.save(tmp_path, safe_serialization=safe_serialization)
    config = json.loads((tmp_path / "wordembedding_config.json").read_text())
    assert config == {"tokenizer_class": ST_WHITESPACE, "update_embeddings": False, "max_seq_length": 7}
    loaded = st_modules.WordEmbeddings.load(str(tmp_path))
    assert_same(encode(ours, sentences, st=False), encode(loaded, sentences, st=True))


@pytest.mark.parametrize("safe_serialization", [True, False])
def test_save_st_load_ours(tmp_path: Path, sentences: list[str], safe_serialization: bool) -> None:
    ours, theirs = make_pair({"stop_words": ["the", "a"]})
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"), safe_serialization=safe_serialization)
    loaded = WordEmbeddings.load(tmp_path / "st", LoadContext())
    assert_same(encode(loaded, sentences, st=False), encode(theirs, sentences, st=True))
    ours.save(tmp_path / "ours")
    for name in ("wordembedding_config.json", "whitespacetokenizer_config.json"):
        mine, st = (json.loads((tmp_path / side / name).read_text()) for side in ("ours", "st"))
        if "stop_words" in st:  # ST writes a set in arbitrary order; we sort it
            assert sorted(mine.pop("stop_words")) == sorted(st.pop("stop_words"))
        assert mine == st


def test_legacy_and_unknown_tokenizer_class(tmp_path: Path, sentences: list[str]) -> None:
    ours, _ = make_pair({})
    ours.save(tmp_path)
    config_file = tmp_path / "wordembedding_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer"
    config_file.write_text(json.dumps(config))
    loaded = WordEmbeddings.load(tmp_path, LoadContext())
    theirs = st_modules.WordEmbeddings.load(str(tmp_path))
    assert_same(encode(loaded, sentences, st=False), encode(theirs, sentences, st=True))
    for bad in ("sentence_transformers.models.tokenizer.NoSuchTokenizer", "evil_package.WhitespaceTokenizer"):
        config_file.write_text(json.dumps({**config, "tokenizer_class": bad}))
        with pytest.raises(ValueError, match="Known word tokenizers"):
            WordEmbeddings.load(tmp_path, LoadContext())


GLOVE_LINES = ["the 0.1 0.2 0.3", "dog -1.5 2.25 0.125", "bad 1.0 2.0", "cat 3e-3 -4 5", "fox 1 1 1"]


@pytest.mark.parametrize("max_vocab_size", [None, 2])
@pytest.mark.parametrize("compressed", [False, True], ids=["glove-txt", "word2vec-gz"])
def test_from_text_file_matches_st(
    tmp_path: Path, sentences: list[str], compressed: bool, max_vocab_size: int | None
) -> None:
    if compressed:
        path = tmp_path / "vectors.txt.gz"
        with gzip.open(path, "wt", encoding="utf8") as handle:
            handle.write("\n".join(["4 3", *GLOVE_LINES]) + "\n")
    else:
        path = tmp_path / "vectors.txt"
        path.write_text("\n".join(GLOVE_LINES) + "\n", encoding="utf8")
    ours = WordEmbeddings.from_text_file(path, max_vocab_size=max_vocab_size)
    theirs = st_modules.WordEmbeddings.from_text_file(str(path), max_vocab_size=max_vocab_size)
    assert ours.tokenizer.get_vocab() == theirs.tokenizer.get_vocab()
    assert ours.tokenizer.get_vocab()[:3] == ["PADDING_TOKEN", "the", "dog"]
    torch.testing.assert_close(ours.emb_layer.weight, theirs.emb_layer.weight, atol=0, rtol=0)
    texts = [*sentences, "cat and fox"]
    assert_same(encode(ours, texts, st=False), encode(theirs, texts, st=True))


def test_from_text_file_never_downloads(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not download"):
        WordEmbeddings.from_text_file("glove.6B.50d.txt.gz")


def test_transformers_tokenizer(tiny_bert_path: Path, tmp_path: Path, sentences: list[str]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_path))
    weights = torch.randn(tokenizer.vocab_size, DIM, generator=torch.Generator().manual_seed(1))
    ours, theirs = WordEmbeddings(tokenizer, weights), st_modules.WordEmbeddings(tokenizer, weights)
    assert_same(encode(ours, sentences, st=False), encode(theirs, sentences, st=True))
    ours.save(tmp_path / "ours")
    (tmp_path / "st").mkdir()
    theirs.save(str(tmp_path / "st"))
    assert json.loads((tmp_path / "ours" / "wordembedding_config.json").read_text()) == json.loads(
        (tmp_path / "st" / "wordembedding_config.json").read_text()
    )
    from_st = WordEmbeddings.load(tmp_path / "st", LoadContext())
    from_ours = st_modules.WordEmbeddings.load(str(tmp_path / "ours"))
    assert_same(encode(from_st, sentences, st=False), encode(from_ours, sentences, st=True))
