"""``CrossEncoderTrainer.hyperparameter_search`` with the optuna backend and ``model_init(trial)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ce_helpers import PAIRS
from datasets import Dataset

from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator
from embedforge.cross_encoder.losses import BinaryCrossEntropyLoss

pytest.importorskip("optuna")


def test_optuna_search_with_model_init_trial_and_loss_factory(tiny_ce_path: Path, tmp_path: Path) -> None:
    rows = 24
    data = Dataset.from_dict(
        {
            "query": [PAIRS[i % len(PAIRS)][0] for i in range(rows)],
            "document": [PAIRS[(i * 2 + 1) % len(PAIRS)][1] for i in range(rows)],
            "label": [float(i % 2) for i in range(rows)],
        }
    )
    evaluator = CrossEncoderCorrelationEvaluator(
        list(zip(data["query"][:12], data["document"][:12], strict=True)), data["label"][:12], name="dev"
    )
    trials: list[Any] = []
    objectives: list[float] = []

    def model_init(trial: Any) -> CrossEncoder:
        trials.append(trial)
        return CrossEncoder(str(tiny_ce_path), device="cpu")

    def compute_objective(metrics: dict[str, float]) -> float:
        objectives.append(metrics["eval_dev_spearman"])
        return objectives[-1]

    trainer = CrossEncoderTrainer(
        model=None,
        model_init=model_init,
        args=CrossEncoderTrainingArguments(
            output_dir=str(tmp_path / "hpo"), max_steps=2, report_to="none", use_cpu=True, save_strategy="no"
        ),
        train_dataset=data,
        loss=BinaryCrossEntropyLoss,  # a factory: called with each fresh model
        evaluator=evaluator,
    )
    best = trainer.hyperparameter_search(
        hp_space=lambda trial: {"learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-3, log=True)},
        compute_objective=compute_objective,
        n_trials=2,
        direction="maximize",
        backend="optuna",
    )
    assert len(objectives) == 2 and best.objective == max(objectives)
    assert any(trial is not None for trial in trials)  # model_init received optuna's trial
    assert set(best.hyperparameters) == {"learning_rate"}
