"""CrossEncoderNanoBEIREvaluator on small SciFact and Cranfield slices with fixed first-stage candidate lists:
the Hub path (``datasets.load_dataset`` served from the slices) and local BEIR folders (with a ``bm25.jsonl``
run file, or a bi-encoder ranking) against sentence-transformers 6.2's NanoBEIR logic on the same candidates;
and the errors for missing files, bad run files and bad arguments."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ce_eval_helpers import assert_csv_match, assert_metrics_match

from embedforge.cross_encoder.evaluation import CrossEncoderNanoBEIREvaluator
from embedforge.cross_encoder.evaluation.nano_beir import DEFAULT_DATASET_NAMES
from embedforge.evaluation.beir import load_beir

DOC_CHARS = 200
OTHER_DOCS = 20
RANKED = 15
"""Candidates per query in the run files (more than RERANK_K, so the cut applies)."""
RERANK_K = 10
AT_K = 5

Slice = dict[str, Any]
"""``queries`` (id -> text), ``corpus`` (rows with _id, title, text), ``qrels`` ((query id, corpus id) pairs),
``run`` ((query id, ranked corpus ids) pairs)."""


def _slice(folder: Path, query_ids: list[str] | None, n_queries: int, seed: int) -> Slice:
    """Queries, their relevant documents plus OTHER_DOCS others (texts cut short), and a shuffled run per query
    (every third query's run misses its relevant documents)."""
    data = load_beir(folder)
    query_ids = query_ids or list(data.relevant_docs)[:n_queries]
    qrels = [(qid, cid) for qid in query_ids for cid in sorted(data.relevant_docs[qid])]
    needed = {cid for _, cid in qrels}
    rows: dict[str, dict[str, str]] = {}
    with gzip.open(next(folder.glob("corpus.jsonl*")), "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["_id"] in needed or len(rows) - len(needed & set(rows)) < OTHER_DOCS:
                rows[row["_id"]] = {"_id": row["_id"], "title": row["title"][:60], "text": row["text"][:DOC_CHARS]}
    rng = random.Random(seed)
    run = []
    for index, qid in enumerate(query_ids):
        ids = [cid for cid in rows if index % 3 != 0 or cid not in data.relevant_docs[qid]]
        rng.shuffle(ids)
        run.append((qid, ids[:RANKED]))
    return {
        "queries": {qid: data.queries[qid] for qid in query_ids},
        "corpus": list(rows.values()),
        "qrels": qrels,
        "run": run,
    }


@pytest.fixture(scope="module")
def slices(shared_data: Path) -> dict[str, Slice]:
    return {
        "scifact": _slice(shared_data / "scifact", None, 8, seed=0),
        "cranfield": _slice(shared_data / "classic-ir" / "cranfield", ["3", "4", "5", "6", "7", "8"], 0, seed=1),
    }


def _joined(row: dict[str, str]) -> str:
    return (row["title"] + " " + row["text"]).strip()


def _write_beir_folder(folder: Path, data: Slice, run_file: bool = True) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in data["corpus"])
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": qid, "text": text}) + "\n" for qid, text in data["queries"].items()), "utf-8"
    )
    lines = ["query-id\tcorpus-id\tscore", *(f"{qid}\t{cid}\t1" for qid, cid in data["qrels"])]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if run_file:
        (folder / "bm25.jsonl").write_text(
            "".join(json.dumps({"query-id": qid, "corpus-ids": ids}) + "\n" for qid, ids in data["run"]), "utf-8"
        )
    return folder


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, slices: dict[str, Slice]) -> dict[str, Any]:
    """Serve ``datasets.load_dataset(id, subset, split=Nano...)`` from the slices: SciFact as NanoSciFact, Cranfield
    as NanoNFCorpus, and SciFact for any other split. ``hub["requests"]`` lists the requests; set ``hub["runs"]``
    to replace the bm25 runs of a split."""
    datasets = pytest.importorskip("datasets")
    state: dict[str, Any] = {"requests": [], "runs": {}}

    def load_dataset(path: str, name: str, split: str) -> Any:
        state["requests"].append((path, name, split))
        data = slices["cranfield"] if split == "NanoNFCorpus" else slices["scifact"]
        if name == "corpus":
            return datasets.Dataset.from_list([{"_id": row["_id"], "text": _joined(row)} for row in data["corpus"]])
        if name == "queries":
            return datasets.Dataset.from_list([{"_id": qid, "text": text} for qid, text in data["queries"].items()])
        if name == "qrels":
            return datasets.Dataset.from_list([{"query-id": qid, "corpus-id": cid} for qid, cid in data["qrels"]])
        run = state["runs"].get(split, data["run"])
        return datasets.Dataset.from_list([{"query-id": qid, "corpus-ids": ids} for qid, ids in run])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return state


def test_hub_datasets_match_sentence_transformers(
    hub: dict[str, Any], ce_models: tuple[Any, Any], st_ce_evaluation: Any, tmp_path: Path
) -> None:
    kwargs = {"dataset_names": ["scifact", "nfcorpus"], "rerank_k": RERANK_K, "at_k": AT_K}
    ours = CrossEncoderNanoBEIREvaluator(**kwargs)
    assert hub["requests"] == [
        ("sentence-transformers/NanoBEIR-en", subset, split)
        for split in ("NanoSciFact", "NanoNFCorpus")
        for subset in ("corpus", "queries", "qrels", "bm25")
    ]
    theirs = st_ce_evaluation.CrossEncoderNanoBEIREvaluator(**kwargs)
    our_metrics = ours(ce_models[0], output_path=str(tmp_path / "ours"), epoch=1, steps=4)
    their_metrics = theirs(ce_models[1], output_path=str(tmp_path / "st"), epoch=1, steps=4)
    assert_metrics_match(our_metrics, their_metrics)
    assert "NanoSciFact_R10_base_ndcg@5" in our_metrics and "NanoBEIR_R10_mean_mrr@5" in our_metrics
    assert ours.primary_metric == theirs.primary_metric == "NanoBEIR_R10_mean_ndcg@5"
    assert [e.name for e in ours.evaluators] == [e.name for e in theirs.evaluators]
    assert ours.name == theirs.name and ours.csv_file == theirs.csv_file and ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Cross Encoder Nano BEIR"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_default_datasets_are_those_of_sentence_transformers(hub: dict[str, Any], st_ce_evaluation: Any) -> None:
    ours = CrossEncoderNanoBEIREvaluator(rerank_k=RERANK_K)
    theirs = st_ce_evaluation.CrossEncoderNanoBEIREvaluator(rerank_k=RERANK_K)
    assert ours.dataset_names == theirs.dataset_names == DEFAULT_DATASET_NAMES
    assert "arguana" not in DEFAULT_DATASET_NAMES and len(DEFAULT_DATASET_NAMES) == 11
    assert [e.name for e in ours.evaluators] == [e.name for e in theirs.evaluators]


@pytest.mark.parametrize("always_rerank_positives", [True, False])
def test_local_folders_match_sentence_transformers_on_the_same_candidates(
    hub: dict[str, Any],
    slices: dict[str, Slice],
    ce_models: tuple[Any, Any],
    st_ce_evaluation: Any,
    tmp_path: Path,
    always_rerank_positives: bool,
) -> None:
    paths = {
        "scifact": _write_beir_folder(tmp_path / "sf", slices["scifact"]),
        "nfcorpus": _write_beir_folder(tmp_path / "cran", slices["cranfield"]),
    }
    kwargs = {
        "rerank_k": RERANK_K,
        "at_k": AT_K,
        "always_rerank_positives": always_rerank_positives,
        "aggregate_fn": np.median,
        "aggregate_key": "median",
    }
    ours = CrossEncoderNanoBEIREvaluator(dataset_paths=paths, **kwargs)
    assert hub["requests"] == []  # nothing from the Hub
    theirs = st_ce_evaluation.CrossEncoderNanoBEIREvaluator(["scifact", "nfcorpus"], **kwargs)
    assert_metrics_match(ours(ce_models[0]), theirs(ce_models[1]))
    assert ours.primary_metric == theirs.primary_metric == "NanoBEIR_R10_median_ndcg@5"
    assert ours.get_config_dict()["dataset_paths"] == {name: str(path) for name, path in paths.items()}


def test_local_names_outside_nanobeir(slices: dict[str, Slice], ce_models: tuple[Any, Any], tmp_path: Path) -> None:
    evaluator = CrossEncoderNanoBEIREvaluator(
        dataset_paths={"cranfield": _write_beir_folder(tmp_path / "cranfield", slices["cranfield"])}, rerank_k=RERANK_K
    )
    assert evaluator.dataset_names == ["cranfield"]
    metrics = evaluator(ce_models[0])
    assert list(metrics)[:3] == ["NanoCranfield_R10_map", "NanoCranfield_R10_mrr@10", "NanoCranfield_R10_ndcg@10"]
    assert metrics["NanoBEIR_R10_mean_ndcg@10"] == metrics["NanoCranfield_R10_ndcg@10"]


def test_bi_encoder_first_stage(
    hub: dict[str, Any],
    slices: dict[str, Slice],
    ce_models: tuple[Any, Any],
    st_ce_evaluation: Any,
    tiny_bert_path: Path,
    tmp_path: Path,
) -> None:
    from embedforge import SentenceTransformer

    retriever = SentenceTransformer(str(tiny_bert_path), device="cpu")
    data = slices["scifact"]
    folder = _write_beir_folder(tmp_path / "sf", data, run_file=False)
    ours = CrossEncoderNanoBEIREvaluator(dataset_paths={"scifact": folder}, retriever=retriever, rerank_k=RERANK_K)
    # The expected first stage: cosine similarity of the bi-encoder, best first, ties by corpus id.
    ids = [row["_id"] for row in data["corpus"]]
    queries = retriever.encode_query(list(data["queries"].values()), convert_to_tensor=True)
    documents = retriever.encode_document([_joined(row) for row in data["corpus"]], convert_to_tensor=True)
    scores = retriever.similarity(queries, documents).tolist()
    expected = [
        (qid, sorted(ids, key=lambda cid, row=row: (-row[ids.index(cid)], cid))[:RERANK_K])
        for qid, row in zip(data["queries"], scores, strict=True)
    ]
    texts = {row["_id"]: _joined(row) for row in data["corpus"]}
    assert [sample["documents"] for sample in ours.evaluators[0].samples] == [
        [texts[cid] for cid in ranked] for _, ranked in expected
    ]
    hub["runs"]["NanoSciFact"] = expected
    theirs = st_ce_evaluation.CrossEncoderNanoBEIREvaluator(["scifact"], rerank_k=RERANK_K)
    assert_metrics_match(ours(ce_models[0]), theirs(ce_models[1]))


def _break(folder: Path, name: str, text: str | None) -> None:
    path = folder / name
    if text is None:
        path.unlink()
    else:
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "text", "error", "message"),
    [
        ("bm25.jsonl", None, FileNotFoundError, r"no first-stage ranking bm25\.jsonl\(\.gz\).*retriever="),
        ("qrels/test.tsv", None, FileNotFoundError, "has no qrels file"),
        ("corpus.jsonl.gz", None, FileNotFoundError, r"has neither corpus\.jsonl nor corpus\.jsonl\.gz"),
        ("bm25.jsonl", '{"query-id": "3", "corpus-ids": ["1"]}\nnot json\n', ValueError, "line 2 is not valid JSON"),
        ("bm25.jsonl", '{"query": "3", "corpus-ids": ["1"]}\n', ValueError, "'query-id' and a list 'corpus-ids'"),
        ("bm25.jsonl", '{"query-id": "3", "corpus-ids": "1"}\n', ValueError, "'query-id' and a list 'corpus-ids'"),
        ("bm25.jsonl", '{"query-id": "3", "corpus-ids": ["nope"]}\n', ValueError, r"corpus id\(s\).*\['nope'\]"),
        ("bm25.jsonl", '{"query-id": "999", "corpus-ids": ["1"]}\n', ValueError, "has relevance judgments"),
    ],
)
def test_local_folder_errors(
    slices: dict[str, Slice], tmp_path: Path, name: str, text: str | None, error: type[Exception], message: str
) -> None:
    folder = _write_beir_folder(tmp_path / "cran", slices["cranfield"])
    _break(folder, name, text)
    with pytest.raises(error, match=message):
        CrossEncoderNanoBEIREvaluator(dataset_paths={"cranfield": folder})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset_names": []}, "`dataset_names` cannot be empty"),
        ({"dataset_names": ["cranfield"]}, "are not NanoBEIR datasets"),
        ({"dataset_names": ["scifact"], "rerank_k": 0}, "`rerank_k` must be a positive integer"),
        ({"dataset_names": ["scifact"], "at_k": 2.5}, "`at_k` must be a positive integer"),
        ({"dataset_names": ["scifact"], "dataset_paths": {"scifact": "x"}}, "in both `dataset_names`"),
        ({"dataset_names": ["scifact"], "retriever": object()}, "`retriever` ranks the corpora of local BEIR folders"),
    ],
)
def test_argument_errors(hub: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrossEncoderNanoBEIREvaluator(**kwargs)


def test_hub_failure_points_to_local_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match=r"could not load subset 'corpus' split 'NanoSciFact'.*dataset_paths="):
        CrossEncoderNanoBEIREvaluator(["scifact"])
