"""The examples run end to end on small slices of the real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("minilm_path")
def test_training_overview_example_on_nli_triplets(shared_data: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    command = [
        sys.executable,
        str(ROOT / "examples" / "training_nli_triplets.py"),
        "--train-rows",
        "64",
        "--eval-rows",
        "24",
        "--steps",
        "2",
        "--output-dir",
        str(output),
    ]
    env = {**os.environ, "EMBEDFORGE_DATA": str(shared_data), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "before: {'all-nli-dev_cosine_accuracy'" in result.stdout
    assert "after, test: {'all-nli-test_cosine_accuracy'" in result.stdout
    checkpoints = sorted(path.name for path in output.glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-2", "checkpoint-4"]  # save_total_limit=2 of 4 steps
    final = output / "final"
    modules = json.loads((final / "modules.json").read_text(encoding="utf-8"))
    assert [entry["type"].rsplit(".", 1)[1] for entry in modules] == ["Transformer", "Pooling"]
    card = (final / "README.md").read_text(encoding="utf-8")
    assert "MultipleNegativesRankingLoss" in card and "loss:MultipleNegativesRankingLoss" in card


@pytest.mark.usefixtures("minilm_path")
@pytest.mark.parametrize("sampler", ["round_robin", "proportional"])
def test_multi_dataset_example(shared_data: Path, tmp_path: Path, sampler: str) -> None:
    command = [
        sys.executable,
        str(ROOT / "examples" / "training_multi_dataset.py"),
        "--rows",
        "16",
        "--max-steps",
        "3",
        "--sampler",
        sampler,
        "--output-dir",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "EMBEDFORGE_DATA": str(shared_data), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval losses: {'eval_all-nli_loss'" in result.stdout
    card = (tmp_path / "run" / "final" / "README.md").read_text(encoding="utf-8")
    for loss in ("MultipleNegativesRankingLoss", "SoftmaxLoss", "CoSENTLoss"):
        assert f"loss:{loss}" in card
