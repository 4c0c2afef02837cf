"""NanoBEIREvaluator on small SciFact and Cranfield slices: Hub loading (datasets.load_dataset served from local
files) against sentence-transformers 6.2's NanoBEIREvaluator, local BEIR folders against ST's per-dataset
InformationRetrievalEvaluator and the mean, and the errors of the BEIR folder loader.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_metrics_match

from embedforge.evaluation.beir import load_beir
from embedforge.evaluation.nano_beir import NanoBEIREvaluator

DOC_CHARS = 200
SCIFACT_QUERIES = 8
CRANFIELD_QUERIES = ["3", "4", "5", "6", "7", "125"]  # 125 is judged relevant to 995, an empty document
OTHER_DOCS = 20

Slice = dict[str, Any]
"""``queries`` (id -> text), ``corpus`` (rows with _id, title, text), ``qrels`` ((query id, corpus id) pairs)."""


def _slice(folder: Path, query_ids: list[str] | None, n_queries: int, extra_docs: tuple[str, ...] = ()) -> Slice:
    """Queries, their relevant documents plus OTHER_DOCS others (texts cut short), from a BEIR folder."""
    data = load_beir(folder)
    query_ids = query_ids or list(data.relevant_docs)[:n_queries]
    qrels = [(qid, cid) for qid in query_ids for cid in sorted(data.relevant_docs[qid])]
    needed = {cid for _, cid in qrels} | set(extra_docs)
    raw: dict[str, dict[str, str]] = {}
    with gzip.open(next(folder.glob("corpus.jsonl*")), "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["_id"] in needed or len(raw) - len(needed & set(raw)) < OTHER_DOCS:
                raw[row["_id"]] = {"_id": row["_id"], "title": row["title"][:60], "text": row["text"][:DOC_CHARS]}
    return {"queries": {qid: data.queries[qid] for qid in query_ids}, "corpus": list(raw.values()), "qrels": qrels}


@pytest.fixture(scope="module")
def slices(shared_data: Path) -> dict[str, Slice]:
    return {
        "scifact": _slice(shared_data / "scifact", None, SCIFACT_QUERIES),
        "cranfield": _slice(shared_data / "classic-ir" / "cranfield", CRANFIELD_QUERIES, 0, extra_docs=("471",)),
    }


def _joined(row: dict[str, str]) -> str:
    return (row["title"] + " " + row["text"]).strip()


def _write_beir_folder(folder: Path, data: Slice) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in data["corpus"])
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": qid, "text": text}) + "\n" for qid, text in data["queries"].items()), "utf-8"
    )
    lines = ["query-id\tcorpus-id\tscore", *(f"{qid}\t{cid}\t1" for qid, cid in data["qrels"])]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, slices: dict[str, Slice]) -> list[tuple[str, str, str]]:
    """Serve ``datasets.load_dataset(id, subset, split=Nano...)`` from the slices: SciFact as NanoSciFact and
    Cranfield as NanoSCIDOCS. Returns the list of requests."""
    datasets = pytest.importorskip("datasets")
    served = {"NanoSciFact": slices["scifact"], "NanoSCIDOCS": slices["cranfield"]}
    requests: list[tuple[str, str, str]] = []

    def load_dataset(path: str, name: str, split: str) -> Any:
        requests.append((path, name, split))
        data = served[split]
        if name == "corpus":
            return datasets.Dataset.from_list([{"_id": row["_id"], "text": _joined(row)} for row in data["corpus"]])
        if name == "queries":
            return datasets.Dataset.from_list([{"_id": qid, "text": text} for qid, text in data["queries"].items()])
        return datasets.Dataset.from_list([{"query-id": qid, "corpus-id": cid} for qid, cid in data["qrels"]])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return requests


def _csv_rows(folder: Path) -> dict[str, list[list[str]]]:
    return {path.name: list(csv.reader(path.read_text("utf-8").splitlines())) for path in sorted(folder.iterdir())}


def _assert_csv_folders_match(ours: Path, theirs: Path) -> None:
    our_files, their_files = _csv_rows(ours), _csv_rows(theirs)
    assert list(our_files) == list(their_files)
    for name, rows in our_files.items():
        assert rows[0] == their_files[name][0], name
        np.testing.assert_allclose(np.asarray(rows[1:], float), np.asarray(their_files[name][1:], float), atol=1e-4)


def test_hub_datasets_match_sentence_transformers(
    hub: list[tuple[str, str, str]], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours = NanoBEIREvaluator(dataset_names=["scifact", "SCIDOCS"])
    assert hub == [
        ("sentence-transformers/NanoBEIR-en", subset, split)
        for split in ("NanoSciFact", "NanoSCIDOCS")
        for subset in ("corpus", "queries", "qrels")
    ]
    theirs = st_evaluation.NanoBEIREvaluator(dataset_names=["scifact", "SCIDOCS"])
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=1, steps=5)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=1, steps=5)
    assert_metrics_match(our_metrics, their_metrics)
    assert "NanoSciFact_cosine_ndcg@10" in our_metrics and "NanoSCIDOCS_cosine_map@100" in our_metrics
    assert ours.primary_metric == theirs.primary_metric == "NanoBEIR_mean_cosine_ndcg@10"
    assert [len(e.corpus) for e in ours.evaluators] == [len(e.corpus) for e in theirs.evaluators]  # empty doc dropped
    assert ours.csv_file == theirs.csv_file and ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Nano BEIR"
    _assert_csv_folders_match(tmp_path / "ours", tmp_path / "st")


def test_names_follow_sentence_transformers(hub: list[tuple[str, str, str]], st_evaluation: Any) -> None:
    kwargs = {"dataset_names": ["scifact"], "truncate_dim": 64, "aggregate_key": "median", "query_prompts": "q: "}
    ours, theirs = NanoBEIREvaluator(**kwargs), st_evaluation.NanoBEIREvaluator(**kwargs)
    assert ours.name == theirs.name == "NanoBEIR_median_64"
    assert [e.name for e in ours.evaluators] == [e.name for e in theirs.evaluators] == ["NanoSciFact_64"]
    assert ours.csv_file == theirs.csv_file == "NanoBEIR_evaluation_median_results.csv"
    assert ours.evaluators[0].query_prompt == theirs.evaluators[0].query_prompt == "q: "
    assert ours.get_config_dict() == theirs.get_config_dict()


def test_local_folders_match_per_dataset_evaluators_and_their_mean(
    slices: dict[str, Slice],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = {name: _write_beir_folder(tmp_path / name, data) for name, data in slices.items()}
    with caplog.at_level(logging.WARNING):
        ours = NanoBEIREvaluator(dataset_names=None, dataset_paths=paths)
    assert "['995']" in caplog.text  # the empty Cranfield document is dropped, so it can never be retrieved
    assert ours.dataset_names == ["scifact", "cranfield"]
    our_metrics = ours(our_model)
    expected: dict[str, float] = {}
    per_metric: dict[str, list[float]] = {}
    for (dataset, data), name in zip(slices.items(), ["NanoSciFact", "NanoCranfield"], strict=True):
        corpus = {row["_id"]: _joined(row) for row in data["corpus"] if _joined(row)}
        relevant: dict[str, set[str]] = {}
        for qid, cid in data["qrels"]:
            relevant.setdefault(qid, set()).add(cid)
        assert len(corpus) == len(data["corpus"]) - 2 * (dataset == "cranfield")  # 471 and 995 are empty
        metrics = st_evaluation.InformationRetrievalEvaluator(data["queries"], corpus, relevant, name=name)(st_model)
        expected.update(metrics)
        for key, value in metrics.items():
            per_metric.setdefault(key.removeprefix(f"{name}_"), []).append(value)
    expected.update({f"NanoBEIR_mean_{metric}": float(np.mean(values)) for metric, values in per_metric.items()})
    assert_metrics_match(our_metrics, expected)
    assert ours.primary_metric == "NanoBEIR_mean_cosine_ndcg@10"
    assert ours.get_config_dict()["dataset_paths"] == {name: str(path) for name, path in paths.items()}
    median = NanoBEIREvaluator(dataset_paths=paths, aggregate_fn=np.median, aggregate_key="median")(our_model)
    assert median["NanoBEIR_median_cosine_ndcg@10"] == pytest.approx(
        np.median([expected["NanoSciFact_cosine_ndcg@10"], expected["NanoCranfield_cosine_ndcg@10"]])
    )


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"dataset_names": []}, r"`dataset_names` cannot be empty. Use None"),
        ({"dataset_names": ["cranfield"]}, r"\['cranfield'\] are not NanoBEIR datasets.*dataset_paths="),
        ({"dataset_names": ["scifact"], "dataset_paths": {"scifact": "x"}}, r"\['scifact'\] are in both"),
        ({"dataset_names": ["scifact"], "query_prompts": {"nq": "q: "}}, r"`query_prompts` has no prompt .*scifact"),
        ({"dataset_names": ["scifact"], "main_score_function": "l2"}, r"`main_score_function` must be one of"),
    ],
)
def test_argument_errors(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        NanoBEIREvaluator(**kwargs)
    assert str(raised.value).startswith("NanoBEIREvaluator: ")


def test_hub_failures_point_to_local_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match=r"could not load subset 'corpus' split 'NanoNQ'.*dataset_paths="):
        NanoBEIREvaluator(dataset_names=["nq"])


def _break(folder: Path, change: str) -> None:
    """Damage a BEIR folder in one way."""
    if change == "no corpus":
        (folder / "corpus.jsonl.gz").unlink()
    elif change == "no queries":
        (folder / "queries.jsonl").unlink()
    elif change == "bad json":
        (folder / "queries.jsonl").write_text('{"_id": "1", "text": "a"}\n{"_id": "2",\n', encoding="utf-8")
    elif change == "no text field":
        (folder / "queries.jsonl").write_text('{"_id": "1", "query": "a"}\n', encoding="utf-8")
    elif change == "bad header":
        tsv = folder / "qrels" / "test.tsv"
        tsv.write_text("qid\tdocid\n" + "".join(tsv.read_text("utf-8").splitlines(True)[1:]), encoding="utf-8")
    elif change == "unknown ids":
        with open(folder / "qrels" / "test.tsv", "a", encoding="utf-8") as handle:
            handle.write("3\tmissing-doc\t1\n3\tother-missing\t1\n")


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        ("no corpus", FileNotFoundError, r"has neither corpus.jsonl nor corpus.jsonl.gz"),
        ("no queries", FileNotFoundError, r"has neither queries.jsonl nor queries.jsonl.gz"),
        ("bad json", ValueError, r"queries.jsonl: line 2 is not valid JSON"),
        ("no text field", ValueError, r"queries.jsonl: line 1 has no \['text'\] field \(found \['_id', 'query'\]\)"),
        ("bad header", ValueError, r"test.tsv: the first line must be the tab-separated header"),
        (
            "unknown ids",
            ValueError,
            r"test.tsv: 2 corpus id\(s\) are not in corpus.jsonl.gz: \['missing-doc', "
            r"'other-missing'\]. Add them .* or remove their rows from test.tsv",
        ),
    ],
)
def test_beir_folder_errors_name_the_file_and_the_fix(
    change: str, error: type[Exception], pattern: str, slices: dict[str, Slice], tmp_path: Path
) -> None:
    folder = _write_beir_folder(tmp_path / "cranfield", slices["cranfield"])
    _break(folder, change)
    with pytest.raises(error, match=pattern):
        NanoBEIREvaluator(dataset_paths={"cranfield": folder})


def test_missing_folder_and_split(tmp_path: Path, slices: dict[str, Slice]) -> None:
    with pytest.raises(FileNotFoundError, match=r"BEIR folder .*nowhere' does not exist"):
        load_beir(tmp_path / "nowhere")
    folder = _write_beir_folder(tmp_path / "cranfield", slices["cranfield"])
    with pytest.raises(FileNotFoundError, match=r"no qrels file .*dev.tsv.*splits found: \['test'\]"):
        load_beir(folder, split="dev")
