"""``hyperparameter_search`` with the optuna backend, as the documentation's HPO page uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.evaluation import EmbeddingSimilarityEvaluator
from embedforge.losses import CoSENTLoss

optuna = pytest.importorskip("optuna")


def test_optuna_search_runs_trials_with_fresh_models_and_returns_the_best(
    tiny_bert_path: Path, stsb_pairs: Dataset, tmp_path: Path
) -> None:
    made: list[SentenceTransformer] = []
    objectives: list[float] = []

    def hpo_search_space(trial: Any) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-3, log=True),
            "per_device_train_batch_size": trial.suggest_categorical("per_device_train_batch_size", [8, 16]),
        }

    def hpo_model_init(trial: Any) -> SentenceTransformer:
        made.append(SentenceTransformer(str(tiny_bert_path), device="cpu"))
        return made[-1]

    def hpo_loss_init(model: SentenceTransformer) -> CoSENTLoss:
        return CoSENTLoss(model)

    def hpo_compute_objective(metrics: dict[str, float]) -> float:
        objectives.append(metrics["eval_sts-dev_spearman_cosine"])
        return objectives[-1]

    dev = stsb_pairs.select(range(32, 48))
    evaluator = EmbeddingSimilarityEvaluator(dev["sentence1"], dev["sentence2"], dev["score"], name="sts-dev")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "hpo"),
        max_steps=2,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=3,
    )
    trainer = SentenceTransformerTrainer(
        model=None,
        args=args,
        train_dataset=stsb_pairs.select(range(32)),
        loss=hpo_loss_init,
        model_init=hpo_model_init,
        evaluator=evaluator,
    )
    best = trainer.hyperparameter_search(
        hp_space=hpo_search_space,
        compute_objective=hpo_compute_objective,
        n_trials=3,
        direction="maximize",
        backend="optuna",
    )
    assert len(objectives) == 3 and len({id(model) for model in made}) >= 3  # a fresh model per trial
    assert best.objective == max(objectives)
    assert set(best.hyperparameters) == {"learning_rate", "per_device_train_batch_size"}
