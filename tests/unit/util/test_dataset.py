"""embedforge.util.resolve_ids: the same resolved batches and errors as sentence-transformers 6.2."""

from __future__ import annotations

import pickle

import pytest

from embedforge.util import resolve_ids

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def st_resolve_ids():
    return pytest.importorskip("sentence_transformers.util.dataset").resolve_ids


@pytest.fixture
def queries():
    return datasets.Dataset.from_dict({"query_id": ["q1", "q2"], "text": ["what is a?", "what is b?"]})


@pytest.fixture
def documents():
    return datasets.Dataset.from_dict({"doc_id": [10, 11, 12], "text": ["a doc", "b doc", "c doc"]})


@pytest.fixture
def train():
    return datasets.Dataset.from_dict(
        {
            "query_id": ["q2", "q1"],
            "document_ids": [[10, 12, 11], [11, 10, 12]],
            "scores": [[0.9, 0.1, 0.5], [0.8, 0.7, 0.2]],
            "extra": ["dropped", "dropped"],
        }
    )


def _both(st_resolve_ids, batch: dict, *args, **kwargs) -> dict:
    ours = resolve_ids(*args, **kwargs)(dict(batch))
    theirs = st_resolve_ids(*args, **kwargs)(dict(batch))
    assert ours == theirs
    assert list(ours) == list(theirs)
    return ours


def test_columns_output_matches_st(st_resolve_ids, queries, documents, train):
    result = _both(st_resolve_ids, train[:], {"query_id": queries, "document_ids": documents}, max_list_length=2)
    assert result == {
        "query": ["what is b?", "what is a?"],
        "document_1": ["a doc", "b doc"],
        "document_2": ["c doc", "a doc"],
        "scores": [[0.9, 0.1], [0.8, 0.7]],
    }


def test_lists_output_matches_st(st_resolve_ids, queries, documents):
    batch = {"query_id": ["q1", "q2"], "document_ids": [[10], [12, 11]], "labels": [[1], [0, 1]]}
    result = _both(
        st_resolve_ids, batch, {"query_id": queries, "document_ids": (documents, "doc_id")}, output_format="lists"
    )
    assert result["documents"] == [["a doc"], ["c doc", "b doc"]]
    assert result["labels"] == [[1], [0, 1]]


def test_explicit_columns_string_lists_and_keep_columns(st_resolve_ids, documents):
    triplets = datasets.Dataset.from_dict({"pid": [1, 2], "title": ["T1", "T2"], "body": ["B1", "B2"]})
    batch = {"positive_id": [2], "negative_idx": [1], "category_ids": ["[1, 2]"], "label": [1.0], "other": [0]}
    lookups = {
        "positive_id": (triplets, "pid", "body"),
        "negative_idx": (triplets, "pid", "title"),
        "category_ids": (triplets, "pid", "title"),
    }
    result = _both(st_resolve_ids, batch, lookups, keep_columns=["label", "missing"])
    assert result == {
        "positive": ["B2"],
        "negative": ["T1"],
        "category_1": ["T1"],
        "category_2": ["T2"],
        "label": [1.0],
    }


def test_plural_names(st_resolve_ids, documents):
    batch = {"query_ids": [[10, 11]]}
    result = _both(st_resolve_ids, batch, {"query_ids": documents}, output_format="lists")
    assert result == {"queries": [["a doc", "b doc"]]}


def test_set_transform_and_pickle(queries, documents, train):
    transform = resolve_ids({"query_id": queries, "document_ids": documents})
    restored = pickle.loads(pickle.dumps(transform))
    train.set_transform(restored)
    assert train[0] == {"query": "what is b?", "document_1": "a doc", "document_2": "c doc", "document_3": "b doc",
                        "scores": [0.9, 0.1, 0.5]}  # fmt: skip


def test_duplicate_ids_resolve_to_last(st_resolve_ids):
    lookup = datasets.Dataset.from_dict({"id": [1, 1], "text": ["first", "last"]})
    assert _both(st_resolve_ids, {"x_id": [1]}, {"x_id": lookup}) == {"x": ["last"]}


@pytest.mark.parametrize(
    ("lookups", "kwargs", "error", "match"),
    [
        ({"query_id": "not a dataset"}, {}, TypeError, "must hold a `Dataset`"),
        ({"query_id": ("q",)}, {}, ValueError, "tuple of length 1"),
        ({}, {"keep_columns": "label"}, TypeError, "the string"),
        ({}, {"max_list_length": 0}, ValueError, "positive integer"),
        ({}, {"output_format": "rows"}, ValueError, "output_format"),
    ],
)
def test_build_errors(st_resolve_ids, lookups, kwargs, error, match):
    with pytest.raises(error, match=match):
        resolve_ids(lookups, **kwargs)
    with pytest.raises(error, match=match):
        st_resolve_ids(lookups, **kwargs)


def test_column_inference_errors(queries):
    ambiguous = datasets.Dataset.from_dict({"a_id": [1], "b_id": [2], "text": ["x"]})
    with pytest.raises(ValueError, match="Cannot infer the ID column"):
        resolve_ids({"q_id": ambiguous})
    with pytest.raises(ValueError, match="Cannot infer the value column"):
        resolve_ids({"q_id": (ambiguous, "a_id")})
    with pytest.raises(ValueError, match="ID column 'nope'"):
        resolve_ids({"q_id": (queries, "nope")})
    with pytest.raises(ValueError, match="value column 'nope'"):
        resolve_ids({"q_id": (queries, "query_id", "nope")})
    with pytest.raises(TypeError, match="DatasetDict"):
        resolve_ids({"q_id": datasets.DatasetDict({"train": queries})})


def test_batch_errors(queries, documents):
    transform = resolve_ids({"query_id": queries, "document_ids": documents})
    with pytest.raises(KeyError, match="ID 'q9' from input column 'query_id' was not found"):
        transform({"query_id": ["q9"], "document_ids": [[10]]})
    with pytest.raises(ValueError, match="differing lengths"):
        transform({"query_id": ["q1", "q2"], "document_ids": [[10], [10, 11]]})
    with pytest.raises(ValueError, match="empty ID lists"):
        transform({"query_id": ["q1"], "document_ids": [[]]})
    with pytest.raises(TypeError, match="holds a"):
        transform({"query_id": ("q1",), "document_ids": [[10]]})
    with pytest.raises(ValueError, match="produced more than once"):
        resolve_ids({"query_id": queries, "query": queries})({"query_id": ["q1"], "query": ["q1"]})
