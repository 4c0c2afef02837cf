"""all-MiniLM-L6-v2 on the real STSb test set: the same Spearman as sentence-transformers (0.8203)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from embedforge import SentenceTransformer


def _read_stsb(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], np.array([float(r["score"]) for r in rows])


def test_stsb_test_spearman_equals_st(minilm_path: Path, shared_data: Path) -> None:
    first, second, gold = _read_stsb(shared_data / "stsb" / "test.csv")
    assert len(gold) == 1379
    model = SentenceTransformer(str(minilm_path), device="cpu")
    embeddings = model.encode(first + second, batch_size=64, convert_to_tensor=True)
    scores = model.similarity_pairwise(embeddings[: len(gold)], embeddings[len(gold) :]).numpy()
    spearman = spearmanr(gold, scores).statistic
    print(f"STSb test Spearman (cosine), all-MiniLM-L6-v2: {spearman:.6f}")
    assert round(spearman, 4) == 0.8203
