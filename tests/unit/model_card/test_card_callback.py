"""ModelCardCallback driven through transformers' real TrainerState/TrainerControl."""

from __future__ import annotations

import pytest
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from embedforge.model_card import ModelCardCallback, SentenceTransformerModelCardData


@pytest.fixture
def run(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=2e-5, num_train_epochs=1)
    card = SentenceTransformerModelCardData()
    return args, card, TrainerState(), TrainerControl()


def _step(state, step, epoch):
    state.global_step, state.epoch = step, epoch


def test_is_a_trainer_callback(run):
    _, card, _, _ = run
    assert isinstance(ModelCardCallback(card), TrainerCallback)


def test_full_training_run(run):
    args, card, state, control = run
    callback = ModelCardCallback(card)
    callback.on_train_begin(args, state, control)
    assert card.non_default_hyperparameters == {"learning_rate": 2e-5, "num_train_epochs": 1}

    _step(state, 5, 0.5)
    callback.on_log(args, state, control, logs={"loss": 0.9, "grad_norm": 1.2, "learning_rate": 1e-5, "epoch": 0.5})
    _step(state, 10, 1.0)
    callback.on_log(args, state, control, logs={"loss": 0.7, "learning_rate": 0.0, "epoch": 1.0})
    metrics = {
        "eval_loss": 0.65,
        "eval_sts-dev_spearman_cosine": 0.8,
        "eval_sts-dev_pearson_cosine": 0.79,
        "eval_runtime": 0.25,
        "eval_samples_per_second": 40.0,
        "eval_steps_per_second": 4.0,
        "epoch": 1.0,
    }
    callback.on_log(args, state, control, logs=metrics)
    callback.on_evaluate(args, state, control, metrics=metrics)
    callback.on_log(args, state, control, logs={"train_runtime": 3.0, "train_loss": 0.8, "epoch": 1.0})
    callback.on_train_end(args, state, control)

    assert card.training_logs == [
        {"Epoch": 0.5, "Step": 5, "Training Loss": 0.9},
        {
            "Epoch": 1.0,
            "Step": 10,
            "Training Loss": 0.7,
            "Validation Loss": 0.65,
            "sts-dev_spearman_cosine": 0.8,
            "sts-dev_pearson_cosine": 0.79,
        },
    ]
    assert card.eval_metrics == {"sts-dev_spearman_cosine": 0.8, "sts-dev_pearson_cosine": 0.79}
    assert card.evaluation_time == 0.25
    assert card.training_time is not None and card.training_time >= 0
    assert card.trained


def test_per_dataset_losses_and_chosen_metrics(run):
    args, card, state, control = run
    callback = ModelCardCallback(card, log_metrics=["eval_sts-dev_spearman_cosine"])
    _step(state, 3, 0.25)
    logs = {
        "eval_stsb_loss": 0.4,
        "eval_nli_loss": 0.5,
        "eval_sts-dev_spearman_cosine": 0.7,
        "eval_sts-dev_pearson_cosine": 0.6,
    }
    callback.on_log(args, state, control, logs=logs)
    assert card.training_logs == [
        {"Epoch": 0.25, "Step": 3, "stsb loss": 0.4, "nli loss": 0.5, "sts-dev_spearman_cosine": 0.7}
    ]


def test_logs_without_losses_or_metrics_add_no_row(run):
    args, card, state, control = run
    callback = ModelCardCallback(card)
    callback.on_log(args, state, control, logs={"learning_rate": 1e-5, "grad_norm": 0.3, "epoch": 0.1})
    callback.on_log(args, state, control, logs=None)
    assert card.training_logs == []


def test_train_end_without_begin_marks_trained_without_time(run):
    args, card, state, control = run
    ModelCardCallback(card).on_train_end(args, state, control)
    assert card.trained
    assert card.training_time is None
