"""Missing, NaN and infinite labels are reported before step 1, with the column, row numbers and the fix."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset, load_dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.data.label_values import SHOWN_ROWS, column_values, label_value_problems
from embedforge.data.validation import DatasetValidationError, check_dataset
from embedforge.losses import CoSENTLoss, MultipleNegativesRankingLoss
from embedforge.models.pooling import Pooling
from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
from embedforge.models.word_embeddings import WordEmbeddings

CSV = "sentence1,sentence2,score\na b,c d,0.5\ne f,g h,nan\ni j,k l,\nm n,o p,inf\nq r,s t,1\nu v,w x,-inf\n"


@pytest.fixture
def model() -> SentenceTransformer:
    vocab = ["[PAD]", *"a b c d e f g h i j k l m n o p q r s t u v w x".split()]
    embeddings = WordEmbeddings(WhitespaceTokenizer(vocab, stop_words=()), torch.randn(len(vocab), 4), True)
    return SentenceTransformer(modules=[embeddings, Pooling(4, "mean")], device="cpu")


@pytest.fixture
def scores_csv(tmp_path: Path) -> Dataset:
    path = tmp_path / "scores.csv"
    path.write_text(CSV, encoding="utf-8")
    return load_dataset("csv", data_files=[str(path)], split="train", cache_dir=str(tmp_path / "cache"))


def _rows(message: str) -> str:
    return re.search(r"rows? ([0-9, …]+) \(", message).group(1)


def test_a_csv_with_nan_empty_and_inf_scores(scores_csv: Dataset) -> None:
    (problem,) = label_value_problems("sts", scores_csv, "CoSENTLoss", "score")
    message = str(problem)
    assert _rows(message) == "2, 3, 4, 6"  # 1-based data rows: line = row + 1 under the header
    assert "label column 'score'" in message and "in 4 row(s)" in message
    assert "2 missing" in message and "2 infinite" in message  # pandas reads 'nan' and '' as missing
    assert "dataset.filter(lambda row: row['score'] is not None and math.isfinite(row['score']))" in message
    fixed = scores_csv.filter(lambda row: row["score"] is not None and math.isfinite(row["score"]))
    assert label_value_problems("sts", fixed, "CoSENTLoss", "score") == []  # the suggested fix works


def test_nan_in_an_in_memory_dataset_is_reported_as_nan() -> None:
    data = Dataset.from_dict({"a": ["x", "y", "z"], "label": [0.1, float("nan"), 0.3]})
    (problem,) = label_value_problems("d", data, "CoSENTLoss", "label")
    assert "1 NaN" in problem.found and _rows(str(problem)) == "2"


def test_integer_labels_with_a_missing_value() -> None:
    data = Dataset.from_dict({"a": ["x", "y", "z"], "label": [1, None, 0]})
    assert data.features["label"].dtype == "int64"
    (problem,) = label_value_problems("d", data, "SoftmaxLoss", "label")
    assert "1 missing" in problem.found and _rows(str(problem)) == "2"


def test_list_labels_are_looked_into() -> None:
    data = Dataset.from_dict(
        {"q": ["a", "b", "c", "d"], "labels": [[1.0, 0.0], [float("inf"), 0.0], None, [0.0, None]]}
    )
    (problem,) = label_value_problems("d", data, "LambdaLoss", "labels")
    assert _rows(str(problem)) == "2, 3, 4"
    assert "2 missing" in problem.found and "1 infinite" in problem.found
    assert "all(v is not None and math.isfinite(v) for v in row['labels'])" in problem.fix


def test_rows_are_counted_in_the_filtered_dataset_not_the_underlying_table() -> None:
    data = Dataset.from_dict({"a": ["x", "y", "z", "w"], "label": [float("nan"), 1.0, 2.0, None]})
    kept = data.filter(lambda row: row["a"] != "x")  # an indices mapping over the whole table
    assert column_values(kept, "label").to_pylist() == [1.0, 2.0, None]
    (problem,) = label_value_problems("d", kept, "CoSENTLoss", "label")
    assert _rows(str(problem)) == "3" and "in 1 row(s)" in problem.found
    assert label_value_problems("d", data.select([1, 2]), "CoSENTLoss", "label") == []


def test_many_bad_rows_list_the_first_few_and_count_all() -> None:
    labels = [float("nan") if index % 3 == 0 else 1.0 for index in range(3000)]
    data = Dataset.from_dict({"a": ["x"] * 3000, "label": labels})
    (problem,) = label_value_problems("d", data, "CoSENTLoss", "label")
    assert "in 1000 row(s)" in problem.found
    assert _rows(str(problem)) == ", ".join(str(1 + 3 * index) for index in range(SHOWN_ROWS)) + ", …"


def test_clean_labels_and_string_labels_pass() -> None:
    data = Dataset.from_dict({"a": ["x", "y"], "label": [0.0, 5.0], "kind": ["p", "q"]})
    assert label_value_problems("d", data, "CoSENTLoss", "label") == []
    assert label_value_problems("d", data, "CoSENTLoss", "kind") == []


def test_check_dataset_reports_bad_labels_for_any_loss_that_reads_them(model: SentenceTransformer) -> None:
    data = Dataset.from_dict({"s1": ["a b", "c d"], "s2": ["e f", "g h"], "score": [None, 0.5]})
    found = [str(problem) for problem in check_dataset("sts", data, CoSENTLoss(model))]
    assert len(found) == 1 and "label column 'score' has missing or non-finite values" in found[0]
    plain = torch.nn.Module()  # a custom loss: the collator still turns the label into a tensor
    assert any("non-finite" in str(problem) for problem in check_dataset("sts", data, plain))
    # a loss without labels already reports the label column itself, once
    found = [str(problem) for problem in check_dataset("sts", data, MultipleNegativesRankingLoss(model))]
    assert len(found) == 1 and "the loss takes no labels" in found[0]


def test_the_trainer_refuses_nan_labels_before_step_1(model: SentenceTransformer, tmp_path: Path) -> None:
    data = Dataset.from_dict({"s1": ["a b", "c d", "e f"], "s2": ["g h", "i j", "k l"], "score": [0.5, None, 1.0]})
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    with pytest.raises(DatasetValidationError, match=r"(?s)found before any training step.*'score'.*row 2 "):
        SentenceTransformerTrainer(model=model, args=args, train_dataset={"sts": data}, loss=CoSENTLoss(model))
    assert not (tmp_path / "out").exists()


def _nan_scores(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {**batch, "score": [float("nan") if text == "c d" else 0.5 for text in batch["s1"]]}


def test_a_transform_that_yields_nan_labels_is_caught(model: SentenceTransformer, tmp_path: Path) -> None:
    data = Dataset.from_dict({"s1": ["a b", "c d"], "s2": ["e f", "g h"], "score": [0.1, 0.2]})
    data.set_transform(_nan_scores)
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    with pytest.raises(DatasetValidationError, match=r"1 NaN.*row 2 "):
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=CoSENTLoss(model))


def test_sentence_transformers_collator_fails_on_the_same_row() -> None:
    """What the check prevents: ST's own collator cannot make a tensor of a missing label."""
    from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

    collate = SentenceTransformerDataCollator(
        preprocess_fn=lambda texts, **kwargs: {"input_ids": torch.zeros(len(texts), 1)}
    )
    with pytest.raises(RuntimeError, match="Could not infer dtype of NoneType"):
        collate([{"s1": "a", "s2": "b", "score": 0.5}, {"s1": "c", "s2": "d", "score": None}])


def test_the_cross_encoder_trainer_refuses_them_too(tiny_bert_path: Path, tmp_path: Path) -> None:
    from embedforge.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments

    model = CrossEncoder(str(tiny_bert_path), num_labels=1, device="cpu")
    data = Dataset.from_dict({"query": ["a", "b"], "answer": ["c", "d"], "label": [1.0, float("inf")]})
    args = CrossEncoderTrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    with pytest.raises(DatasetValidationError, match=r"label column 'label' .*1 infinite.*row 2 "):
        CrossEncoderTrainer(model=model, args=args, train_dataset=data)
