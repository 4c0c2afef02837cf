"""MSEEvaluatorFromDataFrame against sentence-transformers 6.2 on real XNLI parallel sentences (en, de, fr)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_csv_match, assert_metrics_match, recording_encode

from embedforge.evaluation.mse_from_dataframe import MSEEvaluatorFromDataFrame

ROWS = 20
"""Rows of parallel-xnli/en-{de,fr}.tsv.gz (aligned line by line) used by the parity checks."""

EN_DE_FR = [("en", "de"), ("en", "fr")]

CASES: list[dict[str, Any]] = [
    {"combinations": EN_DE_FR},
    {"combinations": EN_DE_FR, "name": "xnli"},
    {"combinations": [("en", "de"), ("de", "fr"), ("en", "fr")]},
]


def _case_id(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in kwargs.items())


def _read_parallel(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n").split("\t") for _, line in zip(range(ROWS + 1), handle, strict=False)][1:]


@pytest.fixture(scope="module")
def xnli_rows(shared_data: Path) -> list[dict[str, str]]:
    """ROWS rows ``{"en", "de", "fr"}``; one German and one French entry blanked (such rows are skipped)."""
    german = _read_parallel(shared_data / "parallel-xnli" / "en-de.tsv.gz")
    french = _read_parallel(shared_data / "parallel-xnli" / "en-fr.tsv.gz")
    rows = []
    for (english, de, _), (english_too, fr, _) in zip(german, french, strict=True):
        assert english == english_too
        rows.append({"en": english, "de": de, "fr": fr})
    rows[5]["de"] = ""
    rows[9]["fr"] = "   "
    return rows


def _run_both(
    rows: list[dict[str, str]],
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_pair: tuple[Any, Any],
    st_pair: tuple[Any, Any],
    st_evaluation: Any,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    """Build both evaluators (teacher = first of each pair) and evaluate the student (second of each pair)."""
    ours = MSEEvaluatorFromDataFrame(rows, teacher_model=our_pair[0], **kwargs)
    theirs = st_evaluation.MSEEvaluatorFromDataFrame(rows, teacher_model=st_pair[0], **kwargs)
    our_metrics = ours(our_pair[1], output_path=str(tmp_path / "ours"), epoch=3, steps=-1)
    their_metrics = theirs(st_pair[1], output_path=str(tmp_path / "st"), epoch=3, steps=-1)
    return ours, theirs, our_metrics, their_metrics


@pytest.mark.parametrize("kwargs", CASES, ids=_case_id)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any],
    xnli_rows: list[dict[str, str]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        xnli_rows, kwargs, tmp_path, (our_model, our_model), (st_model, st_model), st_evaluation
    )
    assert len(our_metrics) == 1
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.greater_is_better and theirs.greater_is_better
    assert ours.data == theirs.data
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Knowledge Distillation"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_value_equals_a_reference_computation(xnli_rows: list[dict[str, str]], our_model: Any) -> None:
    texts = sorted({text for row in xnli_rows for text in row.values()})
    embedding = dict(zip(texts, np.asarray(our_model.encode(texts), dtype=np.float64), strict=True))
    scores = []
    for src, trg in EN_DE_FR:
        kept = [row for row in xnli_rows if row[src].strip() and row[trg].strip()]
        assert len(kept) == ROWS - 1  # the blanked entry is skipped
        teacher = np.stack([embedding[row[src]] for row in kept])
        student = np.stack([embedding[row[trg]] for row in kept])
        scores.append(100 * np.mean((teacher - student) ** 2))
    evaluator = MSEEvaluatorFromDataFrame(xnli_rows, our_model, EN_DE_FR, name="dev")
    assert evaluator.csv_file == "mse_evaluation_dev_results.csv"
    metrics = evaluator(our_model)
    assert list(metrics) == ["dev_negative_mse"]
    np.testing.assert_allclose(metrics["dev_negative_mse"], -np.mean(scores), atol=1e-6, rtol=0)


def test_each_text_is_embedded_once(xnli_rows: list[dict[str, str]], our_model: Any) -> None:
    combinations = [("en", "de"), ("de", "fr"), ("en", "fr")]  # as in CASES: the memoized encode answers
    with recording_encode(our_model) as calls:
        evaluator = MSEEvaluatorFromDataFrame(xnli_rows, our_model, combinations)
    sources = {
        text
        for src, trg in combinations
        for row in xnli_rows
        if row[src].strip() and row[trg].strip()
        for text in [row[src]]
    }
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted(sources)
    with recording_encode(our_model) as calls:
        evaluator(our_model)
    targets = {row[trg] for _, trg in combinations for row in xnli_rows if row[trg].strip()}
    assert len(calls) == 1  # the teacher is not called again; French targets of two combinations embedded once
    assert sorted(calls[0]) == sorted(targets)


def test_student_of_another_size(
    xnli_rows: list[dict[str, str]],
    tmp_path: Path,
    tiny_bert_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    from sentence_transformers import SentenceTransformer as STModel

    from embedforge import SentenceTransformer

    our_student = SentenceTransformer(str(tiny_bert_path), device="cpu")
    st_student = STModel(str(tiny_bert_path), device="cpu")
    kwargs = {"combinations": EN_DE_FR, "truncate_dim": 32, "name": "tiny"}
    ours, theirs, our_metrics, their_metrics = _run_both(
        xnli_rows, kwargs, tmp_path, (our_model, our_student), (st_model, st_student), st_evaluation
    )
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.get_config_dict() == theirs.get_config_dict() == {}  # ST reports no truncate_dim for this one
    assert_csv_match(tmp_path / "ours", tmp_path / "st")
    with pytest.raises(ValueError, match="broadcast"):  # sentence-transformers fails inside numpy
        st_evaluation.MSEEvaluatorFromDataFrame(xnli_rows, st_model, EN_DE_FR)(st_student)
    evaluator = MSEEvaluatorFromDataFrame(xnli_rows, our_model, EN_DE_FR)
    with pytest.raises(ValueError, match=r"^MSEEvaluatorFromDataFrame: the evaluated model gives 32-dimensional"):
        evaluator(our_student)


ROW = {"en": "Hello", "de": "Hallo"}


def test_rows_with_a_blank_text_are_skipped(our_model: Any) -> None:
    rows = [ROW, {"en": "Bye", "de": " "}, {"en": "", "de": "Tschüss"}, {"en": "Yes", "de": "Ja", "fr": 1}]
    evaluator = MSEEvaluatorFromDataFrame(rows, our_model, [("de", "en")])
    assert evaluator.data == {("de", "en"): (["Hallo", "Ja"], ["Hello", "Yes"])}  # other columns are not checked
    assert sorted(evaluator.teacher_embeddings) == ["Hallo", "Ja"]


@pytest.mark.parametrize(
    ("dataframe", "kwargs", "pattern"),
    [
        ([ROW, {"en": "Bye"}], {}, r"row 1 of `dataframe` has no column \['de'\] \(columns: \['en'\]\)"),
        ([{"english": "Hi", "de": "Hallo"}], {}, r"row 0 of `dataframe` has no column \['en'\]"),
        ([ROW, {"en": "Bye", "de": None}], {}, r"row 1 of `dataframe` must hold a string in column 'de', found None"),
        ([], {}, r"`dataframe` must hold at least one row"),
        (["en", "de"], {}, r"found str 'en' as row 0. For a pandas DataFrame pass df.to_dict\('records'\)"),
        ([ROW], {"combinations": []}, r"`combinations` must hold at least one"),
        ([ROW], {"combinations": [("en", "de", "fr")]}, r"found \('en', 'de', 'fr'\) at index 0"),
        ([ROW], {"combinations": ["en-de"]}, r"found 'en-de' at index 0"),
        ([{"en": "Hi", "de": ""}], {}, r"combination \('en', 'de'\) has no row where both 'en' and 'de' are non-b"),
        ([ROW], {"teacher_model": None}, r"`teacher_model` is required"),
    ],
)
def test_clear_errors_before_encoding(
    dataframe: list[Any], kwargs: dict[str, Any], pattern: str, our_model: Any
) -> None:
    kwargs = {"teacher_model": our_model, "combinations": [("en", "de")], **kwargs}
    with recording_encode(our_model) as calls, pytest.raises(ValueError, match=pattern) as raised:
        MSEEvaluatorFromDataFrame(dataframe, **kwargs)
    assert str(raised.value).startswith("MSEEvaluatorFromDataFrame: ")
    assert calls == []
