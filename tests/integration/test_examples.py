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
