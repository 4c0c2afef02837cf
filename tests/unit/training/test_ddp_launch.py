"""Launching: real ``torchrun --nproc_per_node 2`` and ``accelerate launch`` runs of the trainer.

``embedforge train --nproc 2`` runs ``torchrun -m embedforge train``: rank 0 alone prints and writes the report,
and Ctrl-C stops every rank after the same step, with a checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from ddp_workers import MAX_STEPS, PER_DEVICE_BATCH, WORLD_SIZE

from embedforge.cli import main
from embedforge.training.launch import torchrun_arguments
from unit.config.recipe_helpers import tiny_recipe, write_recipe

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo"
)
HERE = Path(__file__).parent
SRC = HERE.parents[2] / "src"


def _env() -> dict[str, str]:
    """This environment without launcher variables, with this checkout's package (and tests/) first on the path."""
    env = {key: value for key, value in os.environ.items() if key not in {"RANK", "WORLD_SIZE", "LOCAL_RANK"}}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE.parents[1]), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    return env


LAUNCHERS = {
    "torchrun": ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD_SIZE)],
    # accelerate's --cpu starts one process (several only through mpirun); --multi_gpu starts torchrun's workers,
    # which train on CPU over gloo because the script asks for use_cpu=True.
    "accelerate launch": [
        *("-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(WORLD_SIZE)),
        *("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"),
    ],
}


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_real_launcher_runs_the_trainer_on_two_processes(tmp_path: Path, launcher: str) -> None:
    if launcher == "accelerate launch":
        pytest.importorskip("accelerate.commands.launch")
    command = [sys.executable, *LAUNCHERS[launcher]]
    done = subprocess.run(
        [*command, str(HERE / "ddp_script.py"), str(tmp_path)],
        env=_env(),
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    assert [rank["world_size"] for rank in ranks] == [WORLD_SIZE] * WORLD_SIZE
    assert [rank["global_step"] for rank in ranks] == [MAX_STEPS] * WORLD_SIZE
    for name, value in ranks[0]["state"].items():
        torch.testing.assert_close(ranks[1]["state"][name], value, atol=0, rtol=0, msg=name)
    checkpoint = tmp_path / "run" / f"checkpoint-{MAX_STEPS}"
    assert {"rng_state_0.pth", "rng_state_1.pth", "model.safetensors", "README.md"} <= {
        path.name for path in checkpoint.iterdir()
    }


def _recipe(tmp_path: Path, tiny_bert_path: Path, **training: object) -> Path:
    recipe = tiny_recipe(tmp_path, tiny_bert_path)
    recipe["training"].update(per_device_train_batch_size=PER_DEVICE_BATCH, **training)
    return write_recipe(tmp_path / "recipe.yaml", recipe)


def test_embedforge_train_nproc_runs_torchrun_and_rank_zero_reports(tmp_path: Path, tiny_bert_path: Path) -> None:
    path = _recipe(tmp_path, tiny_bert_path, max_steps=MAX_STEPS, save_strategy="steps", save_steps=MAX_STEPS)
    done = subprocess.run(
        [sys.executable, "-m", "embedforge", "train", str(path), "--nproc", str(WORLD_SIZE), "-q"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("model: ") for line in lines) == 1, done.stdout  # one report, from rank 0
    assert sum(line.startswith(f"step {MAX_STEPS}: ") for line in lines) == 1, done.stdout
    run = tmp_path / "out"
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {path.name for path in (run / f"checkpoint-{MAX_STEPS}").iterdir()}
    report = json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "completed" and report["global_step"] == MAX_STEPS
    assert report["throughput"]["samples"] == MAX_STEPS * PER_DEVICE_BATCH * WORLD_SIZE  # both ranks' batches
    assert (run / "final" / "modules.json").is_file()


def test_ctrl_c_stops_every_rank_after_the_same_step(tmp_path: Path, tiny_bert_path: Path) -> None:
    path = _recipe(tmp_path, tiny_bert_path, max_steps=100000, eval_strategy="no", save_strategy="no")
    process = subprocess.Popen(
        [sys.executable, "-m", "embedforge", "train", str(path), "--nproc", str(WORLD_SIZE), "--json"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stdout:  # rank 0's JSON events; interrupt once training runs
            if json.loads(line).get("event") == "log":
                process.send_signal(signal.SIGINT)
                break
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGINT, err[-3000:]
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    interrupted = [event for event in events if event["event"] == "interrupted"]
    assert len(interrupted) == 1, out  # reported once, by rank 0
    checkpoint = Path(interrupted[0]["checkpoint"])
    assert checkpoint.name == f"checkpoint-{interrupted[0]['step']}"
    assert {"rng_state_0.pth", "rng_state_1.pth", "model.safetensors"} <= {path.name for path in checkpoint.iterdir()}


def test_nproc_under_a_launcher_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", str(tmp_path / "recipe.yaml"), "--nproc", "2"]) == 1
    assert "drop --nproc" in capsys.readouterr().err


def test_torchrun_arguments() -> None:
    assert torchrun_arguments(3, ["train", "r.yaml", "-q"]) == [
        "--standalone",
        "--nproc_per_node",
        "3",
        "--module",
        "embedforge",
        "train",
        "r.yaml",
        "-q",
    ]
