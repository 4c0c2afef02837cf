"""Crash-safe checkpoints: atomic writes, damage found before a resume, a full disk, leftovers, a real SIGKILL.

The model is a word-embedding + mean pooling + dense model built in code (it loads in milliseconds, also in the
killed child process); training is deterministic, so a resumed run must end with exactly the uninterrupted weights.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.losses import CoSENTLoss
from embedforge.models.dense import Dense
from embedforge.models.pooling import Pooling
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings
from embedforge.training import checkpoints
from spawn_helpers import exit_rank, free_port, run_ranks

WORDS = "a man woman dog child plays runs eats near the park beach house water red old".split()
TESTS = Path(__file__).resolve().parents[2]


def build(output: Path | str, evaluate: bool = False, **kwargs: object) -> SentenceTransformerTrainer:
    """A trainer of the tiny model on 48 rows: 6 steps of 8, a checkpoint every 2 steps (``kwargs`` override).

    With ``evaluate``, the first 16 rows are also the evaluation dataset.
    """
    generator = torch.Generator().manual_seed(0)
    vocab = ["[PAD]", *sorted(set(WORDS))]
    vectors = torch.randn(len(vocab), 16, generator=generator)
    embeddings = WordEmbeddings(WhitespaceTokenizer(vocab, stop_words=()), vectors, True)
    dense = Dense(16, 8, init_weight=torch.randn(8, 16, generator=generator), init_bias=torch.zeros(8))
    model = SentenceTransformer(modules=[embeddings, Pooling(16, "mean"), dense], device="cpu")
    rng = random.Random(0)
    rows = [(" ".join(rng.choices(WORDS, k=6)), " ".join(rng.choices(WORDS, k=6)), rng.random()) for _ in range(48)]
    data = Dataset.from_dict({"s1": [r[0] for r in rows], "s2": [r[1] for r in rows], "score": [r[2] for r in rows]})
    settings = {
        "output_dir": str(output),
        "per_device_train_batch_size": 8,
        "report_to": "none",
        "use_cpu": True,
        "max_steps": 6,
        "save_steps": 2,
        "seed": 1,
        "data_seed": 1,
        "learning_rate": 1e-2,
        "logging_steps": 1,
        "disable_tqdm": True,
    }
    args = SentenceTransformerTrainingArguments(**{**settings, **kwargs})
    evaluation = data.select(range(16)) if evaluate else None
    return SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, eval_dataset=evaluation, loss=CoSENTLoss(model)
    )


def _weights(trainer: SentenceTransformerTrainer) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in trainer.model.state_dict().items()}


def _assert_identical(left: dict[str, torch.Tensor], right: dict[str, torch.Tensor]) -> None:
    assert left.keys() == right.keys()
    for name, value in left.items():
        assert torch.equal(value, right[name]), name


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """An uninterrupted run (checkpoints 2, 4, 6) and its final weights."""
    output = tmp_path_factory.mktemp("run") / "out"
    trainer = build(output)
    trainer.train()
    return output, _weights(trainer)


@pytest.fixture
def run(finished: tuple[Path, dict], tmp_path: Path) -> Path:
    """A copy of the uninterrupted run's output folder."""
    return Path(shutil.copytree(finished[0], tmp_path / "out"))


def test_every_checkpoint_is_complete_and_no_staging_folder_is_left(run: Path) -> None:
    assert [folder.name for folder in checkpoints.checkpoint_folders(run)] == [
        "checkpoint-6",
        "checkpoint-4",
        "checkpoint-2",
    ]
    for folder in checkpoints.checkpoint_folders(run):
        assert checkpoints.checkpoint_problems(folder) == []
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        assert state["global_step"] == int(folder.name.split("-")[1])
    assert sorted(path.name for path in run.iterdir() if path.name.startswith(".")) == []


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda c: _cut(c / "model.safetensors", 600), "model.safetensors: cut short"),
        (lambda c: _cut(c / "model.safetensors", 5), "model.safetensors: cut short (5 bytes"),
        (lambda c: (c / "trainer_state.json").unlink(), "trainer_state.json is missing"),
        (lambda c: (c / "optimizer.pt").write_bytes(b"not a torch file"), "optimizer.pt: cut short or corrupt"),
        (lambda c: (c / "optimizer.pt").unlink(), "optimizer.pt or optimizer.bin"),
        (lambda c: _cut(c / "rng_state.pth", 3000), "rng_state.pth: cut short or corrupt"),
        (lambda c: _cut(c / "modules.json", 20), "modules.json: cut short or corrupt (not valid JSON"),
        (lambda c: shutil.rmtree(c / "1_Pooling"), "module folder 1_Pooling/ (listed in modules.json) is missing"),
        (lambda c: [path.unlink() for path in c.rglob("*.safetensors")], "no weights file"),
    ],
)
def test_each_kind_of_damage_is_named(run: Path, damage, expected: str) -> None:
    folder = run / "checkpoint-6"
    damage(folder)
    problems = checkpoints.checkpoint_problems(folder)
    assert any(problem.startswith(expected) for problem in problems), problems
    assert checkpoints.checkpoint_problems(run / "checkpoint-4") == []


def test_a_flipped_byte_in_a_torch_archive_fails_its_crc(run: Path) -> None:
    path = run / "checkpoint-6" / "scheduler.pt"
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x03\x04") + 30 + 40  # inside the first stored record's data
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))
    assert any("CRC" in problem or "corrupt" in problem for problem in checkpoints.checkpoint_problems(path.parent))


def test_resume_true_skips_a_cut_short_newest_checkpoint(run: Path, finished, caplog) -> None:
    _cut(run / "checkpoint-6" / "model.safetensors", 600)
    (run / ".partial-checkpoint-8" / "checkpoint-8").mkdir(parents=True)  # a killed save's leftover
    trainer = build(run)
    with caplog.at_level(logging.WARNING, logger="embedforge.training.checkpoints"):
        trainer.train(resume_from_checkpoint=True)
    warning = "\n".join(record.getMessage() for record in caplog.records)
    assert f"Skipping {run / 'checkpoint-6'}" in warning and "Resuming from checkpoint-4" in warning
    assert "model.safetensors: cut short" in warning
    _assert_identical(_weights(trainer), finished[1])
    assert checkpoints.checkpoint_problems(run / "checkpoint-6") == []  # written again, replacing the damaged one
    assert not (run / ".partial-checkpoint-8").exists() and not list(run.glob(".replaced-*"))


def test_resume_from_a_named_damaged_checkpoint_fails_before_step_one(run: Path) -> None:
    (run / "checkpoint-4" / "trainer_state.json").unlink()
    trainer = build(run)
    before = _weights(trainer)
    with pytest.raises(ValueError, match=r"checkpoint-4'.*partial or corrupt \(trainer_state.json is missing\)"):
        trainer.train(resume_from_checkpoint=str(run / "checkpoint-4"))
    assert trainer.state.global_step == 0
    _assert_identical(_weights(trainer), before)


def test_no_complete_checkpoint_is_an_error_listing_each_folder(run: Path) -> None:
    for folder in checkpoints.checkpoint_folders(run):
        (folder / "scheduler.pt").unlink()
    with pytest.raises(ValueError, match="No complete checkpoint") as caught:
        build(run).train(resume_from_checkpoint=True)
    message = str(caught.value)
    assert all(f"checkpoint-{step}: scheduler.pt is missing" in message for step in (2, 4, 6))
    assert "Remove these folders" in message


def test_save_only_model_checkpoints_need_no_optimizer(tmp_path: Path) -> None:
    trainer = build(tmp_path / "out", save_only_model=True, max_steps=2)
    trainer.train()
    folder = tmp_path / "out" / "checkpoint-2"
    assert not (folder / "optimizer.pt").exists() and checkpoints.checkpoint_problems(folder, False) == []
    assert "scheduler.pt is missing" in checkpoints.checkpoint_problems(folder)
    assert checkpoints.resume_checkpoint(True, trainer.args) == str(folder)


def test_a_full_disk_keeps_the_earlier_checkpoints_and_says_so(tmp_path: Path, monkeypatch) -> None:
    trainer = build(tmp_path / "out", save_total_limit=1)
    original = torch.save

    def save(obj, path, *args, **kwargs):
        if str(path).endswith("optimizer.pt") and trainer.state.global_step == 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(OSError, match="disk is full") as caught:
        trainer.train()
    message = str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert "Checkpoint checkpoint-4 could not be saved" in message and "optimizer.pt" in message
    assert "earlier checkpoints" in message and "intact (the newest is checkpoint-2)" in message
    assert [folder.name for folder in checkpoints.checkpoint_folders(tmp_path / "out")] == ["checkpoint-2"]
    assert checkpoints.checkpoint_problems(tmp_path / "out" / "checkpoint-2") == []
    assert not [path for path in (tmp_path / "out").iterdir() if path.name.startswith(".")]


def test_a_failed_torch_write_is_annotated_and_leaves_no_partial_checkpoint(tmp_path: Path, monkeypatch) -> None:
    trainer = build(tmp_path / "out")
    original = torch.save

    def save(obj, path, *args, **kwargs):
        if str(path).endswith("scheduler.pt") and trainer.state.global_step == 4:
            raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")
        return original(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(RuntimeError, match="file write failed") as caught:
        trainer.train()
    note = "\n".join(caught.value.__notes__)
    assert "While saving checkpoint-4" in note and "MiB free on the disk of" in note
    assert "intact (the newest is checkpoint-2)" in note
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["checkpoint-2"]


def test_rotation_keeps_the_limit_and_the_best_checkpoint_has_its_final_path(tmp_path: Path) -> None:
    output = tmp_path / "out"
    trainer = build(
        output,
        evaluate=True,
        save_total_limit=1,
        eval_strategy="steps",
        eval_steps=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
    )
    trainer.train()
    best = Path(trainer.state.best_model_checkpoint)
    assert best.parent == output and best.is_dir() and checkpoints.checkpoint_problems(best) == []
    kept = {folder.name for folder in checkpoints.checkpoint_folders(output)}
    assert kept == {best.name, "checkpoint-6"}
    for name in kept:
        state = json.loads((output / name / "trainer_state.json").read_text(encoding="utf-8"))
        assert state["best_model_checkpoint"] is None or Path(state["best_model_checkpoint"]).parent == output


CHILD = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from embedforge.training import checkpoints
from unit.training.test_checkpoints import build
publish = checkpoints._publish

def publish_then_die(staged, final):
    if final.name == "checkpoint-4":  # every file of checkpoint-4 is written, the rename has not happened
        os.kill(os.getpid(), signal.SIGKILL)
    publish(staged, final)

checkpoints._publish = publish_then_die
build(sys.argv[1], save_total_limit=1).train()
"""


def test_a_sigkill_during_a_save_leaves_the_last_checkpoint_and_resume_is_exact(tmp_path: Path, finished) -> None:
    output = tmp_path / "out"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    command = [sys.executable, str(script), str(output), str(TESTS)]
    child = subprocess.run(command, capture_output=True, timeout=300, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert [folder.name for folder in checkpoints.checkpoint_folders(output)] == ["checkpoint-2"]
    assert checkpoints.checkpoint_problems(output / "checkpoint-2") == []
    assert (output / ".partial-checkpoint-4" / "checkpoint-4" / "optimizer.pt").is_file()
    trainer = build(output, save_total_limit=1)
    trainer.train(resume_from_checkpoint=True)
    _assert_identical(_weights(trainer), finished[1])
    assert [path.name for path in output.iterdir()] == ["checkpoint-6"]


# --------------------------------------------------------------------------------- two processes (gloo)


def _ddp_worker(rank: int, port: int, output: str) -> None:
    os.environ.update(
        {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"}
        | {"MASTER_PORT": str(port)}
    )
    trainer = build(output, max_steps=4, ddp_backend="gloo", per_device_train_batch_size=4)
    trainer.train()
    torch.distributed.destroy_process_group()
    exit_rank()


def test_ddp_every_rank_writes_its_rng_state_into_the_staged_checkpoint(tmp_path: Path) -> None:
    run_ranks(_ddp_worker, (free_port(), str(tmp_path / "out")))
    folders = checkpoints.checkpoint_folders(tmp_path / "out")
    assert [folder.name for folder in folders] == ["checkpoint-4", "checkpoint-2"]
    for folder in folders:
        assert checkpoints.checkpoint_problems(folder) == []
        assert (folder / "rng_state_0.pth").is_file() and (folder / "rng_state_1.pth").is_file()
    assert not [path for path in (tmp_path / "out").iterdir() if path.name.startswith(".")]
