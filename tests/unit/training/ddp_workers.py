"""Workers for the DDP trainer tests: 2 gloo processes started by ``torch.multiprocessing``, tiny models built in code.

Each worker sets the variables ``torchrun`` sets (``MASTER_ADDR/PORT``, ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)
before building the training arguments, so transformers' Trainer starts DDP exactly as under ``torchrun``. The
bi-encoder is a word-embedding + mean pooling + dense model: a fresh process builds it in milliseconds. What a
worker found (weights, logs, files it wrote) is saved as ``<out>/<run>-rank<r>.pt`` for the test to compare.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import TrainerCallback

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.evaluation import EmbeddingSimilarityEvaluator
from embedforge.losses import CosineSimilarityLoss, SoftmaxLoss
from model_builders import build_word_embedding_model
from spawn_helpers import exit_rank, free_port, run_ranks

WORLD_SIZE = 2
PER_DEVICE_BATCH = 4
MAX_STEPS = 4
TEXTS = [
    "a man is playing a guitar",
    "a woman is eating food outside",
    "the quick brown fox jumps",
    "two children are playing in the park",
    "what is the capital",
    "a dog runs on the beach",
    "a person plays music",
    "a woman eats outside",
    "a fox jumps over a dog",
    "children play near the water",
    "the answer to the question",
    "a dog is running near the water",
    "a cat sits on the table",
    "the red car is in the street",
    "an old man walks",
    "the car is blue",
]
WRITE_EVENTS = ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "shutil.rmtree", "shutil.move")


def spawn(worker: Callable[..., None], *args: Any) -> None:
    """Run ``worker(rank, port, *args)`` in 2 fresh processes; raises if one fails."""
    run_ranks(worker, (free_port(), *args), nprocs=WORLD_SIZE)


def set_launcher_env(rank: int, port: int) -> None:
    """The variables ``torchrun`` gives each worker."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD_SIZE),
        LOCAL_WORLD_SIZE=str(WORLD_SIZE),
    )
    torch.set_num_threads(1)


def build_model() -> SentenceTransformer:
    """The same small trainable bi-encoder in every process (seeded; no dropout)."""
    return build_word_embedding_model(TEXTS, 16)


def scored_pairs(rows: int = 32) -> Dataset:
    """(sentence1, sentence2, score) rows, with an integer ``label`` column for SoftmaxLoss runs."""
    generator = torch.Generator().manual_seed(1)
    return Dataset.from_dict(
        {
            "sentence1": [TEXTS[i % len(TEXTS)] for i in range(rows)],
            "sentence2": [TEXTS[(i * 7 + 3) % len(TEXTS)] for i in range(rows)],
            "score": torch.rand(rows, generator=generator).tolist(),
        }
    )


class CountingEvaluator(EmbeddingSimilarityEvaluator):
    """An EmbeddingSimilarityEvaluator that counts how often this process ran it."""

    calls = 0

    def __call__(self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1) -> Any:
        """Count, then evaluate."""
        type(self).calls += 1
        return super().__call__(model, output_path=output_path, epoch=epoch, steps=steps)


def dev_evaluator() -> CountingEvaluator:
    """The evaluator every run uses."""
    data = scored_pairs(16)
    return CountingEvaluator(data["sentence1"], data["sentence2"], data["score"], name="dev")


class StopAt(TrainerCallback):
    """Stop training (as an interruption would) after ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Stop once ``step`` is reached."""
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


def train_bi_encoder(
    output_dir: Path,
    batch_size: int,
    loss_name: str = "cosine",
    resume: str | None = None,
    stop_at: int | None = None,
) -> tuple[SentenceTransformer, SentenceTransformerTrainer]:
    """Train the tiny bi-encoder for ``MAX_STEPS`` steps, saving every 2 and evaluating every 2."""
    model = build_model()
    data = scored_pairs()
    torch.manual_seed(0)  # SoftmaxLoss's classifier: the same initial weights everywhere
    if loss_name == "softmax":
        data = data.remove_columns("score").add_column("label", [i % 3 for i in range(len(data))])
        loss = SoftmaxLoss(model, 16, 3)
    else:
        loss = CosineSimilarityLoss(model)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        report_to="none",
        use_cpu=True,
        learning_rate=1e-2,
        warmup_steps=1,
        seed=3,
        max_steps=MAX_STEPS,
        save_steps=2,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=2,
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=data,
        eval_dataset=data.select(range(16)),
        loss=loss,
        evaluator=dev_evaluator(),
        callbacks=[StopAt(stop_at)] if stop_at else None,
    )
    trainer.train(resume_from_checkpoint=resume)
    return model, trainer


def _record_writes(root: Path, found: list[str]) -> None:
    """Record every file opened for writing and every folder change under ``root`` by this process."""
    prefix = str(root)

    def hook(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str) and args[0].startswith(prefix):
            mode = args[1] if isinstance(args[1], str) else ""
            if any(flag in mode for flag in "wax+") or (
                isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR)
            ):
                found.append(os.path.relpath(args[0], prefix))
        elif event in WRITE_EVENTS and args and str(args[0]).startswith(prefix):
            found.append(f"{event} {os.path.relpath(str(args[0]), prefix)}")

    sys.addaudithook(hook)


def result_of(model: Any, trainer: Any, **extra: Any) -> dict[str, Any]:
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    for name, loss in trainer.loss.items() if isinstance(trainer.loss, dict) else [("", trainer.loss)]:
        for key, value in loss.state_dict().items():
            if not key.startswith("model."):
                state[f"loss{name}.{key}"] = value.detach().clone()
    return {"state": state, "log_history": trainer.state.log_history, **extra}


def bi_encoder_worker(rank: int, port: int, out: str) -> None:
    """Runs ``full`` (uninterrupted), ``softmax``, ``stopped`` (stops after checkpoint-2) and ``resumed``."""
    set_launcher_env(rank, port)
    root = Path(out)
    writes: list[str] = []
    _record_writes(root / "full", writes)
    saves: list[str] = []
    original_save = SentenceTransformer.save

    def counting_save(self: SentenceTransformer, path: str, *args: Any, **kwargs: Any) -> Any:
        saves.append(os.path.relpath(str(path), root))
        return original_save(self, path, *args, **kwargs)

    SentenceTransformer.save = counting_save  # type: ignore[method-assign]
    model, trainer = train_bi_encoder(root / "full", PER_DEVICE_BATCH)
    extra = {"writes": writes, "saves": list(saves), "evaluator_calls": CountingEvaluator.calls}
    torch.save(result_of(model, trainer, **extra), root / f"full-rank{rank}.pt")
    model, trainer = train_bi_encoder(root / "softmax", PER_DEVICE_BATCH, loss_name="softmax")
    torch.save(result_of(model, trainer), root / f"softmax-rank{rank}.pt")
    train_bi_encoder(root / "resumed", PER_DEVICE_BATCH, stop_at=2)
    model, trainer = train_bi_encoder(root / "resumed", PER_DEVICE_BATCH, resume=str(root / "resumed" / "checkpoint-2"))
    torch.save(result_of(model, trainer), root / f"resumed-rank{rank}.pt")
    exit_rank()


def train_cross_encoder(model_path: str, output_dir: Path, batch_size: int) -> Any:
    """Train a tiny cross-encoder (dropout off) with BinaryCrossEntropyLoss for ``MAX_STEPS`` steps."""
    from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(model_path, device="cpu")
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    data = scored_pairs().rename_column("score", "label")
    args = CrossEncoderTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        report_to="none",
        use_cpu=True,
        learning_rate=1e-3,
        seed=3,
        max_steps=MAX_STEPS,
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
    )
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model))
    trainer.train()
    return model


def cross_encoder_worker(rank: int, port: int, model_path: str, out: str) -> None:
    """Train the cross-encoder with 2 ranks; save this rank's weights."""
    set_launcher_env(rank, port)
    model = train_cross_encoder(model_path, Path(out) / "run", PER_DEVICE_BATCH)
    torch.save(
        {name: value.detach().clone() for name, value in model.state_dict().items()}, Path(out) / f"rank{rank}.pt"
    )
    exit_rank()
