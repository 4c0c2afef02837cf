"""encode: argument rules and outputs, compared with sentence-transformers 6.2 on the same tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embedforge import SentenceTransformer

st = pytest.importorskip("sentence_transformers")


@pytest.fixture
def pair(tiny_bert_path: Path) -> tuple[SentenceTransformer, object]:
    return (
        SentenceTransformer(str(tiny_bert_path), device="cpu", prompts={"query": "query: ", "document": "doc: "}),
        st.SentenceTransformer(str(tiny_bert_path), device="cpu", prompts={"query": "query: ", "document": "doc: "}),
    )


def test_single_string_returns_1d(pair: tuple, sentences: list[str]) -> None:
    ours, theirs = pair
    vector = ours.encode(sentences[0])
    assert vector.shape == (32,)
    np.testing.assert_allclose(vector, theirs.encode(sentences[0]), atol=1e-6)


def test_order_is_restored_with_small_batches(pair: tuple, sentences: list[str]) -> None:
    ours, _ = pair
    batched = ours.encode(sentences, batch_size=2)
    one_by_one = np.stack([ours.encode(text) for text in sentences])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"normalize_embeddings": True},
        {"truncate_dim": 8},
        {"truncate_dim": 8, "normalize_embeddings": True},
        {"prompt_name": "query"},
        {"prompt": "custom: "},
        {"batch_size": 3},
    ],
    ids=str,
)
def test_embeddings_match_st(pair: tuple, sentences: list[str], kwargs: dict) -> None:
    ours, theirs = pair
    a, b = ours.encode(sentences, **kwargs), theirs.encode(sentences, **kwargs)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_quantized_precisions_match_st(pair: tuple, sentences: list[str], precision: str) -> None:
    ours, theirs = pair
    a, b = ours.encode(sentences, precision=precision), theirs.encode(sentences, precision=precision)
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


def test_output_types(pair: tuple, sentences: list[str]) -> None:
    ours, _ = pair
    tensor = ours.encode(sentences, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (len(sentences), 32)
    as_list = ours.encode(sentences, convert_to_numpy=False)
    assert isinstance(as_list, list) and len(as_list) == len(sentences)
    assert isinstance(as_list[0], torch.Tensor)
    empty = ours.encode([])
    assert isinstance(empty, np.ndarray) and empty.size == 0


def test_token_embeddings_match_st(pair: tuple, sentences: list[str]) -> None:
    ours, theirs = pair
    a = ours.encode(sentences, output_value="token_embeddings")
    b = theirs.encode(sentences, output_value="token_embeddings")
    assert [x.shape for x in a] == [y.shape for y in b]
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=0)


def test_all_outputs(pair: tuple, sentences: list[str]) -> None:
    ours, _ = pair
    rows = ours.encode(sentences, output_value=None)
    assert len(rows) == len(sentences)
    assert {"sentence_embedding", "token_embeddings", "input_ids", "attention_mask"} <= set(rows[0])
    np.testing.assert_allclose(rows[2]["sentence_embedding"].numpy(), ours.encode(sentences[2]), atol=1e-5)


def test_encode_query_and_document_use_prompts(pair: tuple, sentences: list[str]) -> None:
    ours, theirs = pair
    np.testing.assert_allclose(ours.encode_query(sentences), ours.encode(sentences, prompt_name="query"), atol=1e-6)
    np.testing.assert_allclose(ours.encode_document(sentences), theirs.encode_document(sentences), atol=1e-5)


def test_default_prompt_name(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(
        str(tiny_bert_path), device="cpu", prompts={"query": "query: "}, default_prompt_name="query"
    )
    np.testing.assert_allclose(model.encode(sentences), model.encode(sentences, prompt="query: "), atol=1e-6)


def test_unknown_prompt_name_is_clear(pair: tuple) -> None:
    ours, _ = pair
    with pytest.raises(ValueError, match=r"prompt_name.*\['document', 'query'\], got 'missing'"):
        ours.encode(["x"], prompt_name="missing")


def test_unknown_default_prompt_name(tiny_bert_path: Path) -> None:
    with pytest.raises(ValueError, match="default_prompt_name 'nope'"):
        SentenceTransformer(str(tiny_bert_path), device="cpu", default_prompt_name="nope")


def test_bad_precision_and_kwargs(pair: tuple) -> None:
    ours, _ = pair
    with pytest.raises(ValueError, match="precision"):
        ours.encode(["x"], precision="int4")
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        ours.encode(["x"], colour="blue")


def test_similarity_functions(pair: tuple, sentences: list[str]) -> None:
    ours, theirs = pair
    embeddings = ours.encode(sentences)
    for name in ("cosine", "dot", "euclidean", "manhattan"):
        ours.similarity_fn_name = name
        theirs.similarity_fn_name = name
        torch.testing.assert_close(ours.similarity(embeddings, embeddings), theirs.similarity(embeddings, embeddings))
        torch.testing.assert_close(
            ours.similarity_pairwise(embeddings, embeddings[::-1].copy()),
            theirs.similarity_pairwise(embeddings, embeddings[::-1].copy()),
        )
    with pytest.raises(ValueError, match="similarity_fn_name"):
        ours.similarity_fn_name = "jaccard"


def test_truncate_dim_and_dimension(tiny_bert_path: Path, sentences: list[str]) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert model.get_sentence_embedding_dimension() == 32
    with model.truncate_sentence_embeddings(16):
        assert model.get_sentence_embedding_dimension() == 16
        assert model.encode(sentences).shape == (len(sentences), 16)
    assert model.encode(sentences).shape == (len(sentences), 32)
    truncated = SentenceTransformer(str(tiny_bert_path), device="cpu", truncate_dim=4)
    assert truncated.encode(sentences).shape == (len(sentences), 4)


def test_max_seq_length_truncates(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    assert model.max_seq_length == 64
    model.max_seq_length = 5
    features = model.tokenize(["a man is playing a guitar near the water"])
    assert features["input_ids"].shape == (1, 5)


def test_tokenize_text_pairs(pair: tuple) -> None:
    ours, theirs = pair
    ours_features = ours.tokenize([("a man", "a dog runs")])
    assert ours_features["token_type_ids"].sum() > 0
    torch.testing.assert_close(ours_features["input_ids"], theirs.tokenize([("a man", "a dog runs")])["input_ids"])


def test_prompt_with_text_pairs_matches_st(pair: tuple) -> None:
    ours, theirs = pair
    texts = [("a man", "a dog runs"), ("the cat sits", "food")]
    np.testing.assert_allclose(ours.encode(texts, prompt="query: "), theirs.encode(texts, prompt="query: "), atol=1e-5)
