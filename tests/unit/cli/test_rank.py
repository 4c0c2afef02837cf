"""``embedforge rank``: bi-encoder retrieval then cross-encoder re-ranking; orders, metrics and written runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedforge.cli import main
from model_builders import build_tiny_classifier

DOCS = {
    "d1": "A man is playing a guitar outside.",
    "d2": "A dog runs on the beach near the water.",
    "d3": "Two children eat food in the park.",
    "d4": "An old woman sits near a red table.",
    "d5": "The car is in the street.",
    "d6": "Three people play music in the house.",
}
QUERIES = {"q1": "who plays music?", "q2": "where is the dog?", "q3": "what is on the street?"}
QRELS = {"q1": ["d1", "d6"], "q2": ["d2"], "q3": ["d5"]}


@pytest.fixture
def beir_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": key, "title": "", "text": text}) + "\n" for key, text in DOCS.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": key, "text": text}) + "\n" for key, text in QUERIES.items())
    )
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, docs in QRELS.items() for d in docs]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def tiny_ce(tmp_path: Path) -> Path:
    return build_tiny_classifier(tmp_path / "ce")


def _events(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_rank_reorders_by_the_cross_encoder(
    tiny_bert_path: Path, tiny_ce: Path, beir_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from embedforge import CrossEncoder, SentenceTransformer
    from embedforge.cross_encoder.retrieve_rerank import ranking_metrics, retrieve

    output = tmp_path / "run.jsonl"
    status = main(
        [
            "rank",
            "--retriever",
            str(tiny_bert_path),
            "--reranker",
            str(tiny_ce),
            "--beir",
            str(beir_folder),
            "--top-k",
            "4",
            "--rerank-k",
            "3",
            "--output",
            str(output),
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert status == 0
    events = _events(capsys)
    metrics = {event["label"]: event["metrics"] for event in events if event["event"] == "metrics"}
    assert set(metrics) == {"retrieval", "reranked"}
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["query_id"] for line in lines] == list(QUERIES)
    bi = SentenceTransformer(str(tiny_bert_path), device="cpu")
    ce = CrossEncoder(str(tiny_ce), device="cpu")
    retrieved = retrieve(bi, QUERIES, DOCS, top_k=4)
    for line in lines:
        candidates = [hit.corpus_id for hit in retrieved[line["query_id"]]]
        scores = ce.predict([(QUERIES[line["query_id"]], DOCS[doc]) for doc in candidates[:3]])
        expected = [candidates[index] for index in np.argsort(-scores, kind="stable")] + candidates[3:]
        assert [result["corpus_id"] for result in line["results"]] == expected
        assert line["results"][0]["retrieval_rank"] is not None
    assert metrics["retrieval"] == pytest.approx(ranking_metrics(retrieved, {q: set(d) for q, d in QRELS.items()}))


def test_rerank_text_files_without_retriever_writes_a_trec_run(
    tiny_ce: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(QUERIES.values()) + "\n")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(DOCS.values()) + "\n")
    run_file = tmp_path / "run.trec"
    assert (
        main(
            [
                "rerank",
                "--reranker",
                str(tiny_ce),
                "--queries",
                str(queries),
                "--corpus",
                str(corpus),
                "--output",
                str(run_file),
                "--device",
                "cpu",
                "--json",
            ]
        )
        == 0
    )
    rows = [line.split("\t") for line in run_file.read_text().splitlines()]
    assert len(rows) == len(QUERIES) * len(DOCS)
    first = [row for row in rows if row[0] == "0"]
    assert [int(row[3]) for row in first] == list(range(1, len(DOCS) + 1))
    scores = [float(row[4]) for row in first]
    assert scores == sorted(scores, reverse=True)


def test_rank_refuses_a_bi_encoder_as_reranker(
    tiny_bert_path: Path, beir_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["rank", "--reranker", str(tiny_bert_path), "--beir", str(beir_folder), "--device", "cpu", "--json"]) == 1
    )
    errors = [event for event in _events(capsys) if event["event"] == "error"]
    assert "not a cross-encoder" in errors[0]["message"]


def test_rank_usage_errors(tiny_ce: Path, beir_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rank", "--reranker", str(tiny_ce), "--json"]) == 2
    assert main(["rank", "--reranker", str(tiny_ce), "--beir", str(beir_folder), "--output", "x.csv", "--json"]) == 2
    messages = [event["message"] for event in _events(capsys) if event["event"] == "error"]
    assert "--beir FOLDER" in messages[0] and ".jsonl" in messages[1]
