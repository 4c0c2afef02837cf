"""Up-front dataset validation checks what the trainer will see: transformed rows, ClassLabel labels."""

from __future__ import annotations

from typing import Any

import pytest
from datasets import Dataset

from embedforge import SentenceTransformer
from embedforge.data.validation import (
    TRANSFORM_SAMPLE_ROWS,
    DatasetValidationError,
    as_seen,
    validate_datasets,
)
from embedforge.losses import DenoisingAutoEncoderLoss, MultipleNegativesRankingLoss


def _noisy(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {"noisy": [text.split()[0] for text in batch["text"]], "text": batch["text"]}


def test_a_transform_is_validated_on_its_output(tiny_bert_path: Any) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    dataset = Dataset.from_dict({"text": [f"sentence number {index}" for index in range(100)]})
    with pytest.raises(DatasetValidationError, match="1 input column"):
        validate_datasets({"train": dataset}, {"train": DenoisingAutoEncoderLoss(model)})
    dataset.set_transform(_noisy, columns=["text"], output_all_columns=True)
    seen = as_seen(dataset)
    assert seen.column_names == ["noisy", "text"] and len(seen) == TRANSFORM_SAMPLE_ROWS
    assert seen[0] == {"noisy": "sentence", "text": "sentence number 0"}
    validate_datasets({"train": dataset}, {"train": DenoisingAutoEncoderLoss(model)})  # no error: 2 text columns


def test_problems_in_transformed_rows_are_reported(tiny_bert_path: Any) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    dataset = Dataset.from_dict({"text": ["one two", "three four"]}).with_transform(
        lambda batch: {"anchor": batch["text"], "positive": [""] * len(batch["text"])}
    )
    with pytest.raises(DatasetValidationError, match="'positive' has 2 missing or empty"):
        validate_datasets({"train": dataset}, {"train": MultipleNegativesRankingLoss(model)})


def test_plain_and_empty_datasets_are_checked_as_they_are() -> None:
    plain = Dataset.from_dict({"text": ["a"]})
    assert as_seen(plain) is plain
    empty = Dataset.from_dict({"text": []})
    empty.set_transform(_noisy)
    assert as_seen(empty) is empty
