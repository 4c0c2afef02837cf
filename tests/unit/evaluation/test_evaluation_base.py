"""SentenceEvaluator helpers, the reporting module and the package's public names."""

from __future__ import annotations

import csv
import types
from pathlib import Path
from typing import Any

import pytest

import embedforge.evaluation as evaluation
from embedforge.evaluation import BaseEvaluator, SentenceEvaluator, SimilarityFunction, reporting
from embedforge.similarity_functions import SimilarityFunction as CanonicalSimilarityFunction


class BinaryClassificationEvaluator(SentenceEvaluator):
    config_keys = ("threshold", "truncate_dim")

    def __init__(self, threshold: float | None = None) -> None:
        super().__init__()
        self.threshold = threshold
        self.truncate_dim = None

    def __call__(self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1) -> Any:
        self.primary_metric = "accuracy"
        return self.prefix_name_to_metrics({"accuracy": 1, "note": "n/a"}, self.name)


class CEThingEvaluator(BinaryClassificationEvaluator):
    pass


def test_public_names() -> None:
    assert BaseEvaluator is SentenceEvaluator
    assert SimilarityFunction is CanonicalSimilarityFunction
    assert set(evaluation.__all__) == {
        "BaseEvaluator",
        "BinaryClassificationEvaluator",
        "EmbeddingSimilarityEvaluator",
        "InformationRetrievalEvaluator",
        "LabelAccuracyEvaluator",
        "MSEEvaluator",
        "MSEEvaluatorFromDataFrame",
        "NanoBEIREvaluator",
        "ParaphraseMiningEvaluator",
        "RerankingEvaluator",
        "SentenceEvaluator",
        "SequentialEvaluator",
        "SimilarityFunction",
        "TranslationEvaluator",
        "TripletEvaluator",
    }
    st_evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
    assert set(st_evaluation.__all__) <= set(evaluation.__all__)  # every ST 6.2 evaluator name exists here
    with pytest.raises(TypeError):
        SentenceEvaluator()  # abstract


def test_defaults_description_and_config() -> None:
    evaluator = BinaryClassificationEvaluator()
    assert (evaluator.greater_is_better, evaluator.primary_metric, evaluator.name) == (True, None, "")
    assert evaluator.description == "Binary Classification"
    assert CEThingEvaluator().description == "Cross Encoder Thing"
    assert evaluator.get_config_dict() == {}
    assert BinaryClassificationEvaluator(threshold=0.5).get_config_dict() == {"threshold": 0.5}


def test_prefix_name_to_metrics() -> None:
    evaluator = BinaryClassificationEvaluator()
    assert evaluator(None) == {"accuracy": 1.0, "note": "n/a"}
    assert evaluator.primary_metric == "accuracy"
    evaluator.name = "dev"
    assert evaluator(None) == {"dev_accuracy": 1.0, "dev_note": "n/a"}
    assert evaluator.primary_metric == "dev_accuracy"
    assert evaluator.prefix_name_to_metrics({"accuracy": 1}, "dev") == {"dev_accuracy": 1.0}
    assert evaluator.primary_metric == "dev_accuracy"  # an already prefixed primary metric is kept
    # A name that is also the start of a metric still prefixes (sentence-transformers would not).
    evaluator.primary_metric = "accuracy_top1"
    evaluator.prefix_name_to_metrics({"accuracy_top1": 1}, "accuracy")
    assert evaluator.primary_metric == "accuracy_accuracy_top1"


def test_store_metrics_in_model_card_data() -> None:
    evaluator = BinaryClassificationEvaluator()
    evaluator.store_metrics_in_model_card_data(types.SimpleNamespace(model_card_data=None), {"a": 1.0})
    try:
        from embedforge.model_card import SentenceTransformerModelCardData
    except ImportError:
        pytest.skip("embedforge.model_card is not available yet")
    card = SentenceTransformerModelCardData()
    evaluator.store_metrics_in_model_card_data(types.SimpleNamespace(model_card_data=card), {"dev_accuracy": 0.5})
    assert card.eval_metrics == {"dev_accuracy": 0.5}


def test_write_csv_appends_with_one_header(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    path = reporting.write_csv(folder, "x_results.csv", ["epoch", "steps", "accuracy_cosine"], [0, 5, 0.5])
    reporting.write_csv(folder, "x_results.csv", ["epoch", "steps", "accuracy_cosine"], [1, -1, 0.75])
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["epoch", "steps", "accuracy_cosine"], ["0", "5", "0.5"], ["1", "-1", "0.75"]]
    with pytest.raises(ValueError, match=r"a row of 1 values for a header of 2 columns"):
        reporting.write_csv(folder, "x_results.csv", ["epoch", "steps"], [0])


def test_run_description_and_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    assert reporting.run_description(-1, -1) == ""
    assert reporting.run_description(2, -1) == " after epoch 2"
    assert reporting.run_description(1.5, 30, truncate_dim=64) == " in epoch 1.5 after 30 steps (truncated to 64)"
    with caplog.at_level("INFO", logger="embedforge.evaluation"):
        reporting.log_start("TripletEvaluator", "dev", 1, -1)
        reporting.log_metrics(["Accuracy Cosine Similarity:\t90.00%"])
    assert "TripletEvaluator: Evaluating the model on the dev dataset after epoch 1:" in caplog.text
    assert "Accuracy Cosine Similarity:\t90.00%" in caplog.text
