"""The Training Overview's multi-dataset example on local stand-ins, with only the import changed.

Seven training datasets, each with its own loss, every batch drawn from one dataset:

| name (as in the docs) | local stand-in (../shared/data) | loss |
|---|---|---|
| all-nli-pair | nli/triplet (anchor, positive) | MultipleNegativesRankingLoss |
| all-nli-pair-class | nli/pair-class (premise, hypothesis, label) | SoftmaxLoss |
| all-nli-pair-score | nli/pair-class, label as a score (entailment 1, neutral 0.5, contradiction 0) | CoSENTLoss |
| all-nli-triplet | nli/triplet (anchor, positive, negative) | MultipleNegativesRankingLoss |
| stsb | stsb/train (sentence1, sentence2, score) | CoSENTLoss |
| quora | mrpc/train paraphrase pairs (label 1) | MultipleNegativesRankingLoss |
| natural-questions | wikiqa/train question/answer pairs (label 1) | MultipleNegativesRankingLoss |

Usage:
    python examples/training_multi_dataset.py [--rows N] [--sampler proportional|round_robin] [--max-steps N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from datasets import Dataset, load_dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.losses import CoSENTLoss, MultipleNegativesRankingLoss, SoftmaxLoss

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def csv_dataset(relative: str, rows: int, offset: int = 0) -> Dataset:
    dataset = load_dataset("csv", data_files=str(DATA / relative), split="train")
    return dataset.select(range(offset, min(offset + rows, len(dataset))))


def positive_pairs(relative: str, first: str, second: str, rows: int) -> Dataset:
    dataset = load_dataset("csv", data_files=str(DATA / relative), split="train").filter(lambda r: r["label"] == 1)
    return dataset.select(range(min(rows, len(dataset)))).select_columns([first, second])


def load_datasets(rows: int) -> tuple[dict[str, Dataset], dict[str, Dataset]]:
    triplets = csv_dataset("nli/triplet/validation.csv.gz", rows).select_columns(["anchor", "positive", "negative"])
    pair_class = csv_dataset("nli/pair-class/validation.csv.gz", rows).select_columns(
        ["premise", "hypothesis", "label"]
    )
    scores = {0: 1.0, 1: 0.5, 2: 0.0}
    pair_score = pair_class.map(lambda row: {"score": scores[row["label"]]}).remove_columns("label")
    train = {
        "all-nli-pair": triplets.select_columns(["anchor", "positive"]),
        "all-nli-pair-class": pair_class,
        "all-nli-pair-score": pair_score,
        "all-nli-triplet": triplets,
        "stsb": csv_dataset("stsb/train.csv", rows).select_columns(["sentence1", "sentence2", "score"]),
        "quora": positive_pairs("mrpc/train.csv", "sentence1", "sentence2", rows),
        "natural-questions": positive_pairs("wikiqa/train.csv.gz", "question", "answer", rows),
    }
    evaluation = {
        "all-nli": csv_dataset("nli/triplet/test.csv", max(rows // 4, 8)).select_columns(
            ["anchor", "positive", "negative"]
        ),
        "stsb": csv_dataset("stsb/validation.csv", max(rows // 4, 8)).select_columns(
            ["sentence1", "sentence2", "score"]
        ),
    }
    return train, evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000, help="rows per dataset")
    parser.add_argument("--sampler", default="proportional", choices=["proportional", "round_robin"])
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--model", help="base model folder (default: the BERT inside all-MiniLM-L6-v2)")
    parser.add_argument("--output-dir", default="models/minilm-bert-multi-dataset")
    options = parser.parse_args()

    # 1. Load a model
    if options.model is None:
        from training_nli_triplets import plain_minilm_bert

        options.model = str(plain_minilm_bert(Path(tempfile.mkdtemp()) / "minilm-bert"))
    model = SentenceTransformer(options.model)

    # 2. Load several Datasets to train with (local stand-ins) and 3. evaluation datasets
    train_dataset, eval_dataset = load_datasets(options.rows)

    # 4. Load several loss functions to train with
    mnrl_loss = MultipleNegativesRankingLoss(model)
    softmax_loss = SoftmaxLoss(model, model.get_sentence_embedding_dimension(), 3)
    cosent_loss = CoSENTLoss(model)
    losses = {
        "all-nli-pair": mnrl_loss,
        "all-nli-pair-class": softmax_loss,
        "all-nli-pair-score": cosent_loss,
        "all-nli-triplet": mnrl_loss,
        "stsb": cosent_loss,
        "quora": mnrl_loss,
        "natural-questions": mnrl_loss,
    }
    eval_losses = {"all-nli": mnrl_loss, "stsb": cosent_loss}

    # 5. Define a trainer (the docs' simple trainer, plus the sampler choice and a step limit)
    args = SentenceTransformerTrainingArguments(
        output_dir=options.output_dir,
        multi_dataset_batch_sampler=options.sampler,
        max_steps=options.max_steps,
        per_device_train_batch_size=16,
        report_to="none",
        save_strategy="no",
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, loss=losses)
    trainer.train()
    evaluator_trainer = SentenceTransformerTrainer(model=model, args=args, eval_dataset=eval_dataset, loss=eval_losses)
    print("eval losses:", {k: round(v, 4) for k, v in evaluator_trainer.evaluate().items() if k.endswith("_loss")})
    model.save_pretrained(f"{options.output_dir}/final")


if __name__ == "__main__":
    main()
