"""The examples run end to end on small slices of the real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("minilm_path")
def test_training_overview_example_on_nli_triplets(shared_data: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    command = [
        sys.executable,
        str(ROOT / "examples" / "training_nli_triplets.py"),
        "--train-rows",
        "64",
        "--eval-rows",
        "24",
        "--steps",
        "2",
        "--output-dir",
        str(output),
    ]
    env = {**os.environ, "EMBEDFORGE_DATA": str(shared_data), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "before: {'all-nli-dev_cosine_accuracy'" in result.stdout
    assert "after, test: {'all-nli-test_cosine_accuracy'" in result.stdout
    checkpoints = sorted(path.name for path in output.glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-2", "checkpoint-4"]  # save_total_limit=2 of 4 steps
    final = output / "final"
    modules = json.loads((final / "modules.json").read_text(encoding="utf-8"))
    assert [entry["type"].rsplit(".", 1)[1] for entry in modules] == ["Transformer", "Pooling"]
    card = (final / "README.md").read_text(encoding="utf-8")
    assert "MultipleNegativesRankingLoss" in card and "loss:MultipleNegativesRankingLoss" in card


@pytest.mark.usefixtures("minilm_path")
@pytest.mark.parametrize("sampler", ["round_robin", "proportional"])
def test_multi_dataset_example(shared_data: Path, tmp_path: Path, sampler: str) -> None:
    command = [
        sys.executable,
        str(ROOT / "examples" / "training_multi_dataset.py"),
        "--rows",
        "16",
        "--max-steps",
        "3",
        "--sampler",
        sampler,
        "--output-dir",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "EMBEDFORGE_DATA": str(shared_data), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval losses: {'eval_all-nli_loss'" in result.stdout
    card = (tmp_path / "run" / "final" / "README.md").read_text(encoding="utf-8")
    for loss in ("MultipleNegativesRankingLoss", "SoftmaxLoss", "CoSENTLoss"):
        assert f"loss:{loss}" in card


def _run_example(script: str, *arguments: str, shared_data: Path) -> str:
    command = [sys.executable, str(ROOT / "examples" / script), *arguments]
    env = {**os.environ, "EMBEDFORGE_DATA": str(shared_data), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.usefixtures("minilm_path")
def test_cross_encoder_stsb_example(shared_data: Path) -> None:
    output = _run_example(
        "ce_stsb.py", "--max-steps", "3", "--test-rows", "40", "--threads", "1", shared_data=shared_data
    )
    assert "embedforge: STSb test spearman before training:" in output
    assert "embedforge: STSb test spearman after training:" in output


@pytest.mark.usefixtures("minilm_path")
def test_retrieve_rerank_then_distillation_examples(shared_data: Path, tmp_path: Path) -> None:
    quick = ["--train-queries", "5", "--test-queries", "3", "--corpus-docs", "20", "--epochs", "1", "--threads", "1"]
    output = _run_example(
        "retrieve_rerank_scifact.py", *quick, "--save", str(tmp_path / "reranker"), shared_data=shared_data
    )
    assert "SciFact test, bi-encoder (top 100)" in output and "SciFact test, re-ranked top 10" in output
    config = json.loads((tmp_path / "reranker" / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "CrossEncoder"
    output = _run_example(
        "ce_distillation.py", "--teacher", str(tmp_path / "reranker"), *quick, shared_data=shared_data
    )
    assert "student before: SciFact test NDCG@10" in output and "student after:  SciFact test NDCG@10" in output


def test_image_search_example_runs_on_a_random_clip() -> None:
    pytest.importorskip("PIL")
    command = [sys.executable, str(ROOT / "examples" / "image_search.py"), "--top-k", "2"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "16 images" in result.stdout
    assert result.stdout.count("query 'a photo of") == 2
    assert "zero-shot accuracy over 4 colour labels:" in result.stdout


@pytest.mark.usefixtures("minilm_path")
def test_clustering_example_reports_nmi_and_purity(shared_data: Path) -> None:
    pytest.importorskip("sklearn")
    out = _run_example(
        "clustering.py", "--limit", "80", "--threshold", "0.5", "--min-community-size", "3", shared_data=shared_data
    )
    rows = [line.split() for line in out.splitlines() if line.startswith(("ag_news", "trec"))]
    assert len(rows) == 6
    for row in rows:
        nmi, purity = float(row[-2]), float(row[-1])
        assert 0.0 <= nmi <= 1.0 and 0.0 <= purity <= 1.0
    assert float(rows[0][-1]) > 0.4  # k-means on AG News topics beats the 0.25 of one cluster per class at random


@pytest.mark.usefixtures("minilm_path")
def test_bitext_mining_example_scores_against_gold_pairs(shared_data: Path) -> None:
    out = _run_example("bitext_mining.py", "--limit", "60", "--language", "fra", shared_data=shared_data)
    assert "fra-eng, 60 gold pairs" in out and "best F1 threshold" in out and "threshold 1.06" in out


@pytest.mark.usefixtures("minilm_path")
def test_quantized_search_example_reports_memory_and_recall(shared_data: Path) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("usearch")
    out = _run_example("quantized_search.py", "--corpus-docs", "40", "--queries", "6", shared_data=shared_data)
    rows = {line[:20].strip(): line[20:].split() for line in out.splitlines() if "KiB" in line}
    assert list(rows) == ["float32 (exact)", "ubinary", "ubinary + rescore", "int8", "int8 + rescore"]
    assert rows["float32 (exact)"][3] == "1.000" and rows["ubinary"][2] == "96.9%" and rows["int8"][2] == "75.0%"


def _minilm_stsb_test_spearman(minilm_path: Path, shared_data: Path, rows: int) -> float:
    """all-MiniLM-L6-v2's cosine Spearman on the first ``rows`` STSb test pairs (the reference for start models)."""
    import csv

    from embedforge import SentenceTransformer
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    with open(shared_data / "stsb" / "test.csv", encoding="utf-8", newline="") as handle:
        test = list(csv.DictReader(handle))[:rows]
    evaluator = EmbeddingSimilarityEvaluator(
        [row["sentence1"] for row in test], [row["sentence2"] for row in test], [float(row["score"]) for row in test]
    )
    return float(evaluator(SentenceTransformer(str(minilm_path), device="cpu"))["spearman_cosine"])


def test_augmented_sbert_example(shared_data: Path, minilm_path: Path, tmp_path: Path) -> None:
    import csv

    silver_csv = tmp_path / "silver.csv"
    quick = ["--max-train-rows", "48", "--silver-pairs", "24", "--max-steps", "2", "--test-rows", "40"]
    output = _run_example(
        "augmented_sbert.py", *quick, "--threads", "1", "--silver-csv", str(silver_csv), shared_data=shared_data
    )
    assert "sampling (both, top 3):" in output and "cross-encoder STSb test Spearman:" in output
    results = {
        line[:44].strip(): float(line[44:]) for line in output.splitlines() if line.startswith(("start", "gold"))
    }
    assert list(results) == ["start model (no training)", "gold only (48 pairs)", "gold + silver (48 + 24 pairs)"]
    # the start model is all-MiniLM-L6-v2 without its Normalize module: the same cosine scores
    reference = _minilm_stsb_test_spearman(minilm_path, shared_data, 40)
    assert results["start model (no training)"] == pytest.approx(reference, abs=1e-4)
    with open(shared_data / "stsb" / "train.csv", encoding="utf-8", newline="") as handle:
        gold = [frozenset((row["sentence1"], row["sentence2"])) for row in list(csv.DictReader(handle))[:48]]
    with open(silver_csv, encoding="utf-8", newline="") as handle:
        silver = list(csv.DictReader(handle))
    assert len(silver) == 24
    sentences = set().union(*gold)
    for row in silver:
        pair = frozenset((row["sentence1"], row["sentence2"]))
        assert len(pair) == 2 and pair not in gold and pair <= sentences
        assert 0.0 <= float(row["score"]) <= 1.0
    assert len({frozenset((row["sentence1"], row["sentence2"])) for row in silver}) == 24


def test_distillation_example(shared_data: Path, minilm_path: Path, tmp_path: Path) -> None:
    quick = ["--sentences", "96", "--batch-size", "32", "--test-pairs", "40", "--dims", "16,8", "--threads", "1"]
    output = _run_example("distillation.py", *quick, "--output-dir", str(tmp_path), shared_data=shared_data)
    rows = {
        line[:32].strip(): line[32:].split() for line in output.splitlines() if line.startswith(("teacher", "stud"))
    }
    names = ["teacher (6 layers)", "student [0, 2, 4], untrained", "student [0, 2, 4], distilled"]
    assert list(rows) == [*names, "teacher + PCA to 16 dims", "teacher + PCA to 8 dims"]
    reference = _minilm_stsb_test_spearman(minilm_path, shared_data, 40)
    assert float(rows["teacher (6 layers)"][0]) == pytest.approx(reference, abs=1e-4)
    assert rows["teacher (6 layers)"][2] == "1.00"
    assert rows[names[1]][0] != rows[names[2]][0]  # 3 steps of training changed the student
    config = json.loads((tmp_path / "student" / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 3


def test_unsupervised_scifact_example_reports_each_method(shared_data: Path, minilm_path: Path) -> None:
    import re

    from embedforge import SentenceTransformer
    from embedforge.evaluation import InformationRetrievalEvaluator
    from embedforge.evaluation.beir import load_beir

    quick = ["--max-docs", "16", "--max-steps", "1", "--max-seq-length", "32", "--eval-docs", "20"]
    out = _run_example(
        "unsupervised_scifact.py", "--method", "all", *quick, "--test-queries", "10", "--threads", "1",
        shared_data=shared_data,
    )  # fmt: skip
    pattern = r"(\w+): NDCG@10 before (\S+), after (\S+), delta (\S+); training \d+ s \((\d+) steps\), peak RSS (\d+)"
    rows = {match[0]: match[1:] for match in re.findall(pattern, out)}
    assert list(rows) == ["tsdae", "simcse", "ct", "mlm"]
    assert "tsdae noise: deletion 0.6 over" in out and out.count("\n| ") == 5  # table header + 4 methods
    # The reference: the start model's NDCG@10 (0.963, not a trivial 1) on the same claims and abstracts.
    data = load_beir(shared_data / "scifact", split="test")
    claims = [query_id for query_id in data.queries if data.relevant_docs.get(query_id)][:10]
    keep = set().union(*(data.relevant_docs[query_id] for query_id in claims)) | set(list(data.corpus)[:20])
    evaluator = InformationRetrievalEvaluator(
        {query_id: data.queries[query_id] for query_id in claims},
        {doc_id: text for doc_id, text in data.corpus.items() if doc_id in keep},
        data.relevant_docs,
        name="ref",
        write_csv=False,
    )
    reference = evaluator(SentenceTransformer(str(minilm_path), device="cpu"))["ref_cosine_ndcg@10"]
    for before, after, delta, steps, peak in rows.values():
        assert float(before) == pytest.approx(reference, abs=5e-5)
        assert 0.0 <= float(after) <= 1.0 and steps == "1" and int(peak) > 0
        assert float(delta) == pytest.approx(float(after) - float(before), abs=2e-4)
