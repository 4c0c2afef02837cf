"""SentenceTransformerModelCardData: defaults, hyperparameter diff, logs, metrics, base model, trained flag."""

from __future__ import annotations

import dataclasses
import logging

from transformers import TrainingArguments

from embedforge.model_card import SentenceTransformerModelCardData
from embedforge.model_card.data import DEFAULT_TASK_NAME, IGNORED_HYPERPARAMETERS


def test_public_fields_and_defaults_match_sentence_transformers():
    init_fields = {field.name: field for field in dataclasses.fields(SentenceTransformerModelCardData) if field.init}
    assert list(init_fields) == [
        "language",
        "license",
        "model_name",
        "model_id",
        "train_datasets",
        "eval_datasets",
        "task_name",
        "tags",
        "local_files_only",
        "generate_widget_examples",
    ]
    card = SentenceTransformerModelCardData()
    assert card.task_name == DEFAULT_TASK_NAME
    assert DEFAULT_TASK_NAME.startswith("semantic textual similarity, semantic search, paraphrase mining")
    assert (card.language, card.license, card.tags, card.train_datasets) == (None, None, None, [])
    assert (card.local_files_only, card.generate_widget_examples, card.trained) == (False, True, False)
    assert list(card.citations) == ["Sentence Transformers"]


def test_dataset_name_defaults_to_id_and_input_is_not_mutated():
    given = [{"id": "sentence-transformers/stsb"}]
    card = SentenceTransformerModelCardData(train_datasets=given)
    assert card.train_datasets == [{"id": "sentence-transformers/stsb", "name": "sentence-transformers/stsb"}]
    assert given == [{"id": "sentence-transformers/stsb"}]


def test_model_id_without_owner_is_dropped(caplog):
    with caplog.at_level(logging.WARNING):
        card = SentenceTransformerModelCardData(model_id="just-a-name")
    assert card.model_id is None
    assert "owner/name" in caplog.text
    assert SentenceTransformerModelCardData(model_id="org/model").model_id == "org/model"


def test_non_default_hyperparameters(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=2e-5, num_train_epochs=1)
    card = SentenceTransformerModelCardData()
    card.set_hyperparameters(args)
    assert card.non_default_hyperparameters == {"learning_rate": 2e-5, "num_train_epochs": 1}
    assert card.all_hyperparameters["learning_rate"] == 2e-5
    assert card.all_hyperparameters["per_device_train_batch_size"] == 8
    assert not IGNORED_HYPERPARAMETERS & set(card.all_hyperparameters)
    expected_all = {key: value for key, value in args.to_dict().items() if key not in IGNORED_HYPERPARAMETERS}
    assert card.all_hyperparameters == expected_all


def test_bookkeeping_arguments_are_not_reported_as_changes(tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path), logging_steps=7, eval_strategy="steps", eval_steps=3, run_name="x", seed=7
    )
    card = SentenceTransformerModelCardData()
    card.set_hyperparameters(args)
    assert card.non_default_hyperparameters == {"seed": 7}


def test_add_log_merges_rows_of_the_same_step():
    card = SentenceTransformerModelCardData()
    card.add_log({"Epoch": 0.5, "Step": 10, "Training Loss": 0.7})
    card.add_log({"Epoch": 0.5, "Step": 10, "Validation Loss": 0.6})
    card.add_log({"Epoch": 1.0, "Step": 20, "Training Loss": 0.5})
    assert card.training_logs == [
        {"Epoch": 0.5, "Step": 10, "Training Loss": 0.7, "Validation Loss": 0.6},
        {"Epoch": 1.0, "Step": 20, "Training Loss": 0.5},
    ]


def test_eval_metrics_keep_results_only():
    card = SentenceTransformerModelCardData()
    card.set_eval_metrics(
        {
            "eval_loss": 0.3,
            "eval_stsb_loss": 0.2,
            "eval_sts-dev_spearman_cosine": 0.81,
            "eval_sts-dev_pearson_cosine": 1,
            "eval_runtime": 1.5,
            "eval_samples_per_second": 100.0,
            "eval_steps_per_second": 10.0,
            "epoch": 1.0,
            "eval_note": "text",
        }
    )
    assert card.eval_metrics == {"sts-dev_spearman_cosine": 0.81, "sts-dev_pearson_cosine": 1.0}


def test_base_model_keeps_hub_ids_only(tmp_path):
    card = SentenceTransformerModelCardData()
    card.set_base_model("sentence-transformers/all-MiniLM-L6-v2")
    assert (card.base_model, card.base_model_revision) == ("sentence-transformers/all-MiniLM-L6-v2", None)
    card.set_base_model("bert-base-uncased")
    assert card.base_model == "bert-base-uncased"
    sha = "5c38ec7c405ec4b44b94cc5a9bb96e735b38267a"
    snapshot = tmp_path / "hub" / "models--BAAI--bge-small-en-v1.5" / "snapshots" / sha
    card.set_base_model(str(snapshot / "1_Pooling"))
    assert card.base_model == "BAAI/bge-small-en-v1.5"
    assert card.base_model_revision == sha
    card.set_base_model(str(tmp_path))  # an existing local folder
    assert (card.base_model, card.base_model_revision) == (None, None)
    card.set_base_model(None)
    assert card.base_model is None


def test_times_trained_flag_and_setters():
    card = SentenceTransformerModelCardData()
    card.set_training_time(12.5)
    card.add_evaluation_time(1.0)
    card.add_evaluation_time(0.5)
    card.mark_trained()
    assert (card.training_time, card.evaluation_time, card.trained) == (12.5, 1.5, True)
    card.add_tags("custom")
    card.add_tags(["custom", "other"])
    card.set_language(["en", "de"])
    card.set_license("mit")
    card.set_model_id("org/model")
    assert card.tags == ["custom", "other"]
    assert (card.language, card.license, card.model_id) == (["en", "de"], "mit", "org/model")
