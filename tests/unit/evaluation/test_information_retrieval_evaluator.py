"""InformationRetrievalEvaluator against sentence-transformers 6.2 on a SciFact slice (all-MiniLM-L6-v2)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from evaluation_helpers import assert_metrics_match, recording_encode

from embedforge.evaluation.beir import load_beir
from embedforge.evaluation.information_retrieval import InformationRetrievalEvaluator
from embedforge.util import cos_sim, dot_score

N_QUERIES = 15
N_OTHER_DOCS = 45
DOC_CHARS = 200
"""Abstracts are cut to their first characters to keep encoding fast on a shared CPU."""

IRData = tuple[dict[str, str], dict[str, str], dict[str, set[str]]]


@pytest.fixture(scope="module")
def scifact(shared_data: Path) -> IRData:
    """The first N_QUERIES SciFact test queries, their relevant abstracts and N_OTHER_DOCS other abstracts."""
    data = load_beir(shared_data / "scifact")
    query_ids = list(data.relevant_docs)[:N_QUERIES]
    relevant = {qid: data.relevant_docs[qid] for qid in query_ids}
    needed = sorted(set().union(*relevant.values()))
    others = [doc_id for doc_id in data.corpus if doc_id not in needed][:N_OTHER_DOCS]
    corpus = {doc_id: data.corpus[doc_id][:DOC_CHARS] for doc_id in [*others[:20], *needed, *others[20:]]}
    queries = {qid: data.queries[qid] for qid in [*query_ids, *list(data.queries)[:3]]}  # 3 without judgments
    return queries, corpus, relevant


def _st_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same arguments for sentence-transformers, with its own similarity functions."""
    from sentence_transformers import util

    st_functions = {"cosine": util.cos_sim, "dot": util.dot_score}
    kwargs = dict(kwargs)
    if "score_functions" in kwargs:
        kwargs["score_functions"] = {name: st_functions[name] for name in kwargs["score_functions"]}
    return kwargs


def _run_both(
    data: IRData, kwargs: dict[str, Any], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    ours = InformationRetrievalEvaluator(*data, **kwargs)
    theirs = st_evaluation.InformationRetrievalEvaluator(*data, **_st_kwargs(kwargs))
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=1, steps=10)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=1, steps=10)
    return ours, theirs, our_metrics, their_metrics


def _assert_outputs_match(ours_dir: Path, theirs_dir: Path) -> None:
    """Same file names; CSV files with equal headers and rows; prediction files with equal ids and scores."""
    names = sorted(path.name for path in ours_dir.iterdir())
    assert names == sorted(path.name for path in theirs_dir.iterdir())
    for name in names:
        ours_text = (ours_dir / name).read_text(encoding="utf-8")
        theirs_text = (theirs_dir / name).read_text(encoding="utf-8")
        if name.endswith(".csv"):
            our_rows, their_rows = list(csv.reader(ours_text.splitlines())), list(csv.reader(theirs_text.splitlines()))
            assert our_rows[0] == their_rows[0]
            np.testing.assert_allclose(np.asarray(our_rows[1:], float), np.asarray(their_rows[1:], float), atol=1e-4)
            continue
        our_lines = [json.loads(line) for line in ours_text.splitlines()]
        their_lines = [json.loads(line) for line in theirs_text.splitlines()]
        assert [(r["query_id"], r["query"]) for r in our_lines] == [(r["query_id"], r["query"]) for r in their_lines]
        for our_row, their_row in zip(our_lines, their_lines, strict=True):
            our_hits, their_hits = our_row["results"], their_row["results"]
            assert [hit["corpus_id"] for hit in our_hits] == [hit["corpus_id"] for hit in their_hits]
            np.testing.assert_allclose([h["score"] for h in our_hits], [h["score"] for h in their_hits], atol=1e-4)


def test_default_arguments_match_sentence_transformers(
    scifact: IRData, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        scifact, {"name": "scifact-test"}, tmp_path, our_model, st_model, st_evaluation
    )
    assert list(our_metrics)[:4] == [f"scifact-test_cosine_accuracy@{k}" for k in (1, 3, 5, 10)]
    assert_metrics_match(our_metrics, their_metrics)
    assert our_metrics["scifact-test_cosine_ndcg@10"] > 0.5
    assert ours.primary_metric == theirs.primary_metric == "scifact-test_cosine_ndcg@10"
    assert ours.queries_ids == theirs.queries_ids and len(ours.queries_ids) == N_QUERIES
    assert ours.csv_file == theirs.csv_file and ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict() == {}
    assert ours.description == theirs.description == "Information Retrieval"
    _assert_outputs_match(tmp_path / "ours", tmp_path / "st")


CASES: list[dict[str, Any]] = [
    {
        "mrr_at_k": [5, 10],
        "ndcg_at_k": [3, 10],
        "accuracy_at_k": [1, 2],
        "precision_recall_at_k": [2, 20],
        "map_at_k": [5, 100],
    },
    {"score_functions": ["cosine", "dot"], "name": "sf"},
    {"score_functions": ["dot", "cosine"], "main_score_function": "dot"},
    {"main_score_function": "cosine", "name": "sf"},
    {"write_predictions": True, "name": "sf", "score_functions": ["cosine", "dot"]},
    {"query_prompt": "Retrieve the abstract that supports this claim: "},
    {"truncate_dim": 64, "name": "sf"},
]


@pytest.mark.parametrize("kwargs", CASES, ids=",".join)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any], scifact: IRData, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    if "score_functions" in kwargs:
        functions = {"cosine": cos_sim, "dot": dot_score}
        kwargs = {**kwargs, "score_functions": {name: functions[name] for name in kwargs["score_functions"]}}
    ours, theirs, our_metrics, their_metrics = _run_both(scifact, kwargs, tmp_path, our_model, st_model, st_evaluation)
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    _assert_outputs_match(tmp_path / "ours", tmp_path / "st")


def test_corpus_chunks_give_the_same_metrics_and_rankings(
    scifact: IRData, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    kwargs = {"name": "sf", "write_predictions": True, "write_csv": False}
    whole = InformationRetrievalEvaluator(*scifact, **kwargs)
    chunked = InformationRetrievalEvaluator(*scifact, corpus_chunk_size=16, **kwargs)
    assert len(chunked.corpus) > 3 * 16
    whole_metrics = whole(our_model, output_path=str(tmp_path / "whole"))
    chunked_metrics = chunked(our_model, output_path=str(tmp_path / "chunked"))
    assert_metrics_match(chunked_metrics, whole_metrics)
    _assert_outputs_match(tmp_path / "chunked", tmp_path / "whole")
    theirs = st_evaluation.InformationRetrievalEvaluator(*scifact, **kwargs)
    assert_metrics_match(chunked_metrics, theirs(st_model, output_path=str(tmp_path / "st")))
    _assert_outputs_match(tmp_path / "chunked", tmp_path / "st")


def test_score_ties_are_broken_by_corpus_id_whatever_the_chunks(
    scifact: IRData, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    def flat(queries: torch.Tensor, documents: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(queries), len(documents))

    theirs = st_evaluation.InformationRetrievalEvaluator(*scifact, score_functions={"flat": flat}, write_csv=False)
    their_metrics = theirs(st_model)
    for chunk_size in (16, 50000):  # 16: the chunks (and cached embeddings) of the test above
        ours = InformationRetrievalEvaluator(*scifact, score_functions={"flat": flat}, corpus_chunk_size=chunk_size)
        assert_metrics_match(ours(our_model), their_metrics)


def test_each_distinct_text_is_encoded_once_per_role(our_model: Any) -> None:
    queries = {"q1": "What do cats eat?", "q2": "What do cats eat?", "q3": "How fast is light?"}
    corpus = {"d1": "Cats eat fish.", "d2": "Cats eat fish.", "d3": "Light is fast.", "d4": "Dogs bark."}
    relevant = {"q1": {"d1"}, "q2": {"d2"}, "q3": ["d3"]}
    with recording_encode(our_model) as calls:
        metrics = InformationRetrievalEvaluator(queries, corpus, relevant)(our_model)
    assert calls == [["What do cats eat?", "How fast is light?"], ["Cats eat fish.", "Light is fast.", "Dogs bark."]]
    assert metrics["cosine_accuracy@3"] == 1.0


def test_missing_relevant_documents_are_reported_and_count_as_misses(
    our_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    queries = {"q1": "What do cats eat?", "q2": "How fast is light?"}
    corpus = {"d1": "Cats eat fish.", "d3": "Light is fast.", "d4": "Dogs bark."}
    with caplog.at_level(logging.WARNING):
        evaluator = InformationRetrievalEvaluator(queries, corpus, {"q1": {"d1", "gone"}, "q2": {"d3"}})
    assert "1 relevant document id(s) are not in `corpus`" in caplog.text and "'gone'" in caplog.text
    assert evaluator(our_model)["cosine_recall@10"] == pytest.approx((0.5 + 1) / 2)


Q, C, R = {"q1": "query"}, {"d1": "doc"}, {"q1": {"d1"}}


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        (({}, C, R), {}, r"`queries` must hold at least one entry, found an empty dict"),
        ((["query"], C, R), {}, r"`queries` must be a dict from id to text, found list"),
        ((Q, {"d1": None}, R), {}, r"`corpus` must map ids to strings, found NoneType None for id 'd1'"),
        ((Q, C, {"q1": "d1"}), {}, r"`relevant_docs` must map each query id to a set of document ids"),
        ((Q, C, {}), {}, r"`relevant_docs` must be a non-empty dict"),
        ((Q, C, {1: {"d1"}}), {}, r"none of the 1 ids of `queries` \(e.g. \['q1'\]\) has relevant documents"),
        ((Q, C, {"q1": {1}}), {}, r"none of the 1 relevant document ids in `relevant_docs` \(e.g. \[1\]\) is a key"),
        ((Q, C, R), {"mrr_at_k": 10}, r"`mrr_at_k` must be a list of cut-offs, got the number 10"),
        ((Q, C, R), {"ndcg_at_k": [0, 10]}, r"`ndcg_at_k` must be a non-empty list of positive integers"),
        ((Q, C, R), {"map_at_k": []}, r"`map_at_k` must be a non-empty list of positive integers"),
        ((Q, C, R), {"corpus_chunk_size": 0}, r"`corpus_chunk_size` must be a positive integer, found 0"),
        ((Q, C, R), {"score_functions": {}}, r"`score_functions` must be a non-empty dict"),
        ((Q, C, R), {"score_functions": {"cos": "cos_sim"}}, r"the entries \['cos'\] do not"),
        ((Q, C, R), {"main_score_function": "l1"}, r"`main_score_function` must be one of"),
        (
            (Q, C, R),
            {"score_functions": {"cosine": cos_sim}, "main_score_function": "dot"},
            r"`main_score_function`='dot' must be a key of `score_functions` \['cosine'\]",
        ),
    ],
)
def test_clear_errors_before_encoding(args: tuple, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        InformationRetrievalEvaluator(*args, **kwargs)
    assert str(raised.value).startswith("InformationRetrievalEvaluator: ")
