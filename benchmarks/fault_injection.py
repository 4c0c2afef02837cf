"""Fault injection: kill a short training with SIGKILL at random moments, resume it, compare with the uninterrupted run.

The training (a child process of this script, ``--child``): a word-embedding + mean pooling + dense model built in
code (vocabulary of 200 made-up words, 64 dimensions), MultipleNegativesRankingLoss on 960 synthetic pairs, batch
16, ``--steps`` steps (default 60), a checkpoint every ``--save-steps`` steps (default 5), ``save_total_limit=3``,
seed and data_seed fixed. It writes one line per finished step to ``progress.log``, the step it started from to
``start.json``, and its final weights to ``final.safetensors``.

First an uninterrupted run gives the reference weights and the training time. Then each of ``--runs`` runs starts a
fresh training and kills it with SIGKILL, either

- ``random``: at a uniformly random moment of the training (measured from its first finished step, over the
  reference run's training time), which often falls inside a checkpoint save; or
- ``in-save``: inside the save of a random checkpoint, at a random phase, through a hook that only this script's
  child installs (environment variable ``FAULT_KILL_IN_SAVE=STEP:PHASE``): ``model`` (model.safetensors half
  written), ``optimizer`` (optimizer.pt half written), ``before-rename`` (every file written, not yet renamed),
  ``after-rename`` (renamed, old checkpoints not yet rotated), ``rotation`` (in the middle of deleting an old one);

then resumes it (``trainer.train(resume_from_checkpoint=True)``, or from scratch when no checkpoint exists) to the
end. Per run: kill time, step reached, checkpoint resumed from, steps lost (must be <= one checkpoint interval), and
the largest absolute difference between the final weights and the reference (must be exactly 0.0).

Usage::

    python benchmarks/fault_injection.py --runs 20 --output fault_injection.json
    python benchmarks/fault_injection.py --runs 4 --steps 30   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROGRESS = "progress.log"
START = "start.json"
FINAL = "final.safetensors"


# ------------------------------------------------------------------ the child: one training, maybe killed
def build_trainer(output: Path, steps: int, save_steps: int) -> Any:
    import torch
    from datasets import Dataset

    from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from embedforge.losses import MultipleNegativesRankingLoss
    from embedforge.models.dense import Dense
    from embedforge.models.pooling import Pooling
    from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
    from embedforge.models.word_embeddings import WordEmbeddings

    rng = random.Random(0)
    words = sorted({"".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=5)) for _ in range(200)})
    generator = torch.Generator().manual_seed(0)
    embeddings = WordEmbeddings(
        WhitespaceTokenizer(["[PAD]", *words], stop_words=()), torch.randn(len(words) + 1, 64, generator=generator)
    )
    dense = Dense(64, 64, init_weight=torch.randn(64, 64, generator=generator) / 8, init_bias=torch.zeros(64))
    model = SentenceTransformer(modules=[embeddings, Pooling(64, "mean"), dense], device="cpu")
    anchors = [" ".join(rng.choices(words, k=8)) for _ in range(960)]
    positives = [" ".join(text.split()[:4] + rng.choices(words, k=4)) for text in anchors]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output),
        per_device_train_batch_size=16,
        max_steps=steps,
        save_steps=save_steps,
        save_total_limit=3,
        learning_rate=1e-2,
        warmup_steps=5,
        seed=7,
        data_seed=7,
        logging_steps=1000,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    data = Dataset.from_dict({"anchor": anchors, "positive": positives})
    return SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
    )


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _cut_and_die(path: Path) -> None:
    """A kill in the middle of writing ``path``: keep its first half, then SIGKILL."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _die()


def _hook_model(trainer: Any, at_step: Callable[[], bool], phase: str) -> None:
    save = type(trainer)._save

    def save_then_cut(self: Any, output_dir: str | None = None, state_dict: Any = None) -> None:
        save(self, output_dir, state_dict)
        if at_step():
            _cut_and_die(Path(output_dir or self.args.output_dir) / "model.safetensors")

    type(trainer)._save = save_then_cut


def _hook_optimizer(trainer: Any, at_step: Callable[[], bool], phase: str) -> None:
    import torch

    torch_save = torch.save

    def save_then_cut(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        torch_save(obj, path, *args, **kwargs)
        if at_step() and str(path).endswith("optimizer.pt"):
            _cut_and_die(Path(path))

    torch.save = save_then_cut


def _hook_rename(trainer: Any, at_step: Callable[[], bool], phase: str) -> None:
    from embedforge.training import checkpoints

    publish = checkpoints._publish

    def publish_with_kill(staged: Path, final: Path) -> None:
        if at_step() and phase == "before-rename":
            _die()
        publish(staged, final)
        if at_step():
            _die()

    checkpoints._publish = publish_with_kill


def _hook_rotation(trainer: Any, at_step: Callable[[], bool], phase: str) -> None:
    rmtree = shutil.rmtree

    def rmtree_partly(path: Any, *args: Any, **kwargs: Any) -> None:
        if at_step() and Path(path).name.startswith("checkpoint-"):
            for file in sorted(item for item in Path(path).rglob("*") if item.is_file())[:3]:
                file.unlink()
            _die()
        rmtree(path, *args, **kwargs)

    shutil.rmtree = rmtree_partly  # transformers' rotate_checkpoints deletes with shutil.rmtree


HOOKS = {
    "model": _hook_model,
    "optimizer": _hook_optimizer,
    "before-rename": _hook_rename,
    "after-rename": _hook_rename,
    "rotation": _hook_rotation,
}
"""How each phase's kill is planted in the child (see the module docstring)."""


def install_kill_hook(trainer: Any, spec: str) -> None:
    """``STEP:PHASE``: SIGKILL this process inside the save of checkpoint-STEP, at PHASE."""
    step_text, phase = spec.split(":")
    if phase not in HOOKS:
        raise ValueError(f"FAULT_KILL_IN_SAVE={spec!r}: the phase must be one of {sorted(HOOKS)}")
    HOOKS[phase](trainer, lambda: trainer.state.global_step == int(step_text), phase)


def child(output: Path, steps: int, save_steps: int, resume: bool) -> None:
    from safetensors.torch import save_file
    from transformers import TrainerCallback

    from embedforge.training import checkpoints

    trainer = build_trainer(output, steps, save_steps)
    progress = open(output / PROGRESS, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    class Progress(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            (output / START).write_text(json.dumps({"step": state.global_step}), encoding="utf-8")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            progress.write(f"{state.global_step} {time.time():.4f}\n")
            progress.flush()

    trainer.add_callback(Progress())
    if os.environ.get("FAULT_KILL_IN_SAVE"):
        install_kill_hook(trainer, os.environ["FAULT_KILL_IN_SAVE"])
    has_checkpoints = bool(checkpoints.checkpoint_folders(output))
    trainer.train(resume_from_checkpoint=True if resume and has_checkpoints else None)
    state = {name: value.detach().contiguous() for name, value in trainer.model.state_dict().items()}
    save_file(state, str(output / FINAL))


# ----------------------------------------------------------------- the parent: runs, kills, resumes, compares
@dataclass
class Run:
    """One killed and resumed training."""

    index: int
    mode: str
    phase: str | None
    kill_after_s: float
    kill_into_training_s: float | None
    step_reached: int
    resumed_from: str
    steps_lost: int
    leftovers: list[str]
    skipped_warnings: int
    max_abs_diff: float
    wall_s: float


def _child_command(output: Path, options: argparse.Namespace, resume: bool) -> list[str]:
    command = [sys.executable, __file__, "--child", str(output), "--steps", str(options.steps)]
    command += ["--save-steps", str(options.save_steps)]
    return [*command, "--resume"] if resume else command


def _steps(output: Path) -> list[tuple[int, float]]:
    """The finished steps and when (epoch seconds), from the progress file (a line cut by the kill is left out)."""
    path = output / PROGRESS
    lines = path.read_text(encoding="utf-8").split("\n")[:-1] if path.is_file() else []  # the last has no newline
    return [(int(line.split()[0]), float(line.split()[1])) for line in lines if len(line.split()) == 2]


def _first_step_time(output: Path, timeout: float) -> float | None:
    """When the first step finished, waiting up to ``timeout`` seconds for it; None if it did not."""
    deadline = time.time() + timeout
    while not _steps(output):
        if time.time() >= deadline:
            return None
        time.sleep(0.005)
    return _steps(output)[0][1]


def reference(workdir: Path, options: argparse.Namespace) -> tuple[dict[str, Any], float]:
    """The uninterrupted run's final weights and its training time (first to last finished step)."""
    from safetensors.torch import load_file

    output = workdir / "reference"
    output.mkdir(parents=True)
    subprocess.run(_child_command(output, options, False), check=True, capture_output=True)
    steps = _steps(output)
    return load_file(str(output / FINAL)), steps[-1][1] - steps[0][1]


def _kill_in_save(output: Path, options: argparse.Namespace, rng: random.Random) -> tuple[str, float, float]:
    """Start a training that kills itself inside a random save at a random phase: (phase, start, death time)."""
    phase = rng.choice(sorted(HOOKS))
    first = 4 * options.save_steps if phase == "rotation" else options.save_steps  # rotation: 3 older ones
    steps = [step for step in range(first, options.steps, options.save_steps)]
    env = {**os.environ, "FAULT_KILL_IN_SAVE": f"{rng.choice(steps)}:{phase}"}
    start = time.time()
    process = subprocess.Popen(_child_command(output, options, False), env=env, stderr=subprocess.DEVNULL)
    process.wait()
    if process.returncode != -signal.SIGKILL:
        raise RuntimeError(f"{output.name}: the child was not killed (exit status {process.returncode})")
    return phase, start, time.time()


def _kill_at_random(
    output: Path, options: argparse.Namespace, rng: random.Random, train_s: float
) -> tuple[float, float]:
    """Start a training and SIGKILL it at a random moment of its training time: (start, kill time)."""
    for _ in range(5):  # a kill drawn after the end of a faster-than-reference training is drawn again
        for stale in (output / PROGRESS, output / START):
            stale.unlink(missing_ok=True)
        start = time.time()
        process = subprocess.Popen(_child_command(output, options, False), stderr=subprocess.DEVNULL)
        began = _first_step_time(output, timeout=300) or time.time()
        time.sleep(max(0.0, began + rng.uniform(0, train_s) - time.time()))
        killed_at = time.time()
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.returncode == -signal.SIGKILL:
            return start, killed_at
        for path in output.iterdir():  # finished before the kill: start over
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    raise RuntimeError(f"{output.name}: the training finished before every drawn kill moment")


def one_run(index: int, workdir: Path, options: argparse.Namespace, expected: dict, train_s: float) -> Run:
    """Kill a fresh training (in a save or at random), resume it to the end, compare its weights."""
    from safetensors.torch import load_file

    rng = random.Random(options.seed * 1000 + index)
    output = workdir / f"run-{index:02d}"
    output.mkdir(parents=True)
    if rng.random() < options.in_save_share:
        mode = "in-save"
        phase, start, killed_at = _kill_in_save(output, options, rng)
    else:
        mode, phase = "random", None
        start, killed_at = _kill_at_random(output, options, rng, train_s)
    steps = _steps(output)
    reached = steps[-1][0] if steps else 0
    into_training = round(killed_at - steps[0][1], 3) if steps else None
    leftovers = sorted(path.name for path in output.iterdir() if path.name.startswith("."))
    (output / PROGRESS).unlink(missing_ok=True)
    resumed = subprocess.run(_child_command(output, options, True), capture_output=True, text=True, check=True)
    start_step = json.loads((output / START).read_text(encoding="utf-8"))["step"]
    final = load_file(str(output / FINAL))
    diff = max(float((final[name] - expected[name]).abs().max()) for name in expected)
    return Run(
        index=index,
        mode=mode,
        phase=phase,
        kill_after_s=round(killed_at - start, 3),
        kill_into_training_s=into_training,
        step_reached=reached,
        resumed_from=f"checkpoint-{start_step}" if start_step else "(start)",
        steps_lost=reached - start_step,
        leftovers=leftovers,
        skipped_warnings=resumed.stderr.count("Skipping "),
        max_abs_diff=diff,
        wall_s=round(time.time() - start, 2),
    )


def summarize(runs: list[Run], options: argparse.Namespace, wall_s: float) -> dict[str, Any]:
    worst = max(run.steps_lost for run in runs)
    return {
        "runs": len(runs),
        "in_save_kills": sum(run.mode == "in-save" for run in runs),
        "random_kills": sum(run.mode == "random" for run in runs),
        "bit_identical": sum(run.max_abs_diff == 0.0 for run in runs),
        "max_abs_diff": max(run.max_abs_diff for run in runs),
        "max_steps_lost": worst,
        "checkpoint_interval": options.save_steps,
        "within_one_interval": worst <= options.save_steps,
        "runs_with_leftover_staging": sum(bool(run.leftovers) for run in runs),
        "wall_s": round(wall_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="killed and resumed runs")
    parser.add_argument("--steps", type=int, default=60, help="training steps of each run")
    parser.add_argument("--save-steps", type=int, default=5, help="the checkpoint interval")
    parser.add_argument("--in-save-share", type=float, default=0.5, help="share of runs killed inside a save hook")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments and phases")
    parser.add_argument("--output", help="write the runs and the summary to this JSON file")
    parser.add_argument("--workdir", help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        child(Path(options.child), options.steps, options.save_steps, options.resume)
        return 0
    from encode import machine_details

    machine = machine_details("cpu")
    started = time.time()
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(options.workdir or temporary)
        expected, train_s = reference(workdir, options)
        print(f"reference run: {options.steps} steps, training {train_s:.2f} s", flush=True)
        runs = []
        for index in range(options.runs):
            run = one_run(index, workdir, options, expected, train_s)
            runs.append(run)
            into = "before step 1" if run.kill_into_training_s is None else f"{run.kill_into_training_s:.2f} s in"
            print(
                f"run {index:2d} {run.mode:<8} {run.phase or '-':<13} killed {into:<13} reached step "
                f"{run.step_reached:3d}, resumed from {run.resumed_from:<14} lost {run.steps_lost} steps, "
                f"leftovers {','.join(run.leftovers) or '-'}, max |diff| {run.max_abs_diff}",
                flush=True,
            )
    summary = summarize(runs, options, time.time() - started)
    print(json.dumps(summary, indent=2))
    if options.output:
        payload = {"summary": summary, "runs": [asdict(run) for run in runs], "argv": sys.argv, "machine": machine}
        Path(options.output).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    ok = summary["bit_identical"] == len(runs) and summary["within_one_interval"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
