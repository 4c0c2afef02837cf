"""MSEEvaluator against sentence-transformers 6.2 on real Tatoeba English-German pairs (all-MiniLM-L6-v2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_csv_match, assert_metrics_match, recording_encode

from embedforge.evaluation.mse import MSEEvaluator

PAIRS = 50
"""Sentence pairs of tatoeba/deu-eng.tsv used by the parity checks."""

CASES: list[dict[str, Any]] = [
    {},
    {"name": "tatoeba-en-de"},
    {"truncate_dim": 64, "name": "en-de"},
]


def _case_id(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in kwargs.items()) or "default"


@pytest.fixture(scope="module")
def en_de(shared_data: Path) -> tuple[list[str], list[str]]:
    """The first PAIRS (English, German) pairs of the Tatoeba test set."""
    lines = (shared_data / "tatoeba" / "deu-eng.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["english", "non_english"]
    rows = [line.split("\t") for line in lines[1 : PAIRS + 1]]
    return [row[0] for row in rows], [row[1] for row in rows]


def _run_both(
    columns: tuple[list[str], list[str]],
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_pair: tuple[Any, Any],
    st_pair: tuple[Any, Any],
    st_evaluation: Any,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    """Build both evaluators (teacher = first of each pair) and evaluate the student (second of each pair)."""
    ours = MSEEvaluator(*columns, teacher_model=our_pair[0], **kwargs)
    theirs = st_evaluation.MSEEvaluator(*columns, teacher_model=st_pair[0], **kwargs)
    our_metrics = ours(our_pair[1], output_path=str(tmp_path / "ours"), epoch=1, steps=20)
    their_metrics = theirs(st_pair[1], output_path=str(tmp_path / "st"), epoch=1, steps=20)
    return ours, theirs, our_metrics, their_metrics


def test_default_arguments_match_sentence_transformers(
    en_de: tuple[list[str], list[str]], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        en_de, {}, tmp_path, (our_model, our_model), (st_model, st_model), st_evaluation
    )
    assert list(our_metrics) == ["negative_mse"]
    assert_metrics_match(our_metrics, their_metrics)
    assert our_metrics["negative_mse"] < 0  # an English model maps German elsewhere
    assert ours.primary_metric == theirs.primary_metric == "negative_mse"
    assert ours.greater_is_better and theirs.greater_is_better
    assert ours.csv_file == theirs.csv_file == "mse_evaluation__results.csv"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


@pytest.mark.parametrize("kwargs", CASES, ids=_case_id)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any],
    en_de: tuple[list[str], list[str]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        en_de, kwargs, tmp_path, (our_model, our_model), (st_model, st_model), st_evaluation
    )
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers == ["epoch", "steps", "MSE"]
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Knowledge Distillation"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_value_equals_a_reference_computation(en_de: tuple[list[str], list[str]], our_model: Any) -> None:
    english, german = en_de
    options = {"batch_size": 32, "show_progress_bar": False, "convert_to_numpy": True, "truncate_dim": None}
    teacher = np.asarray(our_model.encode(english, **options), dtype=np.float64)
    student = np.asarray(our_model.encode(german, **options), dtype=np.float64)
    expected = -100 * np.mean((teacher - student) ** 2)
    metrics = MSEEvaluator(english, german, teacher_model=our_model, name="dev")(our_model)
    np.testing.assert_allclose(metrics["dev_negative_mse"], expected, atol=1e-6, rtol=0)


def test_same_sentences_and_model_give_zero(en_de: tuple[list[str], list[str]], our_model: Any) -> None:
    english, _ = en_de
    assert MSEEvaluator(english, english, teacher_model=our_model)(our_model) == {"negative_mse": 0.0}


def test_teacher_embeds_once_at_construction_and_each_text_once(
    en_de: tuple[list[str], list[str]], our_model: Any
) -> None:
    english, german = en_de
    english, german = english + english[:5], german + german[:5]  # repeated pairs are embedded once
    with recording_encode(our_model) as calls:
        evaluator = MSEEvaluator(english, german, teacher_model=our_model)
    assert calls == [list(dict.fromkeys(english))]
    assert evaluator.source_embeddings.shape == (len(english), 384)
    with recording_encode(our_model) as calls:
        first = evaluator(our_model)
        second = evaluator(our_model)
    assert calls == [list(dict.fromkeys(german))] * 2  # the teacher is not called again
    assert first == second


def test_student_of_another_size_matches_sentence_transformers_when_truncated(
    en_de: tuple[list[str], list[str]],
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
    assert our_student.get_sentence_embedding_dimension() == 32
    ours, _, our_metrics, their_metrics = _run_both(
        en_de,
        {"truncate_dim": 32, "name": "tiny"},
        tmp_path,
        (our_model, our_student),
        (st_model, st_student),
        st_evaluation,
    )
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.source_embeddings.shape == (PAIRS, 32)
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_student_of_another_size_fails_clearly(
    en_de: tuple[list[str], list[str]], tiny_bert_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    from sentence_transformers import SentenceTransformer as STModel

    from embedforge import SentenceTransformer

    english, german = en_de
    with pytest.raises(ValueError, match="broadcast"):  # sentence-transformers fails inside numpy
        st_evaluation.MSEEvaluator(english, german, teacher_model=st_model)(STModel(str(tiny_bert_path), device="cpu"))
    evaluator = MSEEvaluator(english, german, teacher_model=our_model)
    with pytest.raises(ValueError, match=r"gives 32-dimensional embeddings but the teacher gave 384-dimensional") as e:
        evaluator(SentenceTransformer(str(tiny_bert_path), device="cpu"))
    assert str(e.value).startswith("MSEEvaluator: ")
    assert "truncate_dim=32" in str(e.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((["a", "b"], ["x"]), {}, r"`target_sentences` must have one entry per `source_sentences` entry \(2\), f"),
        (([], []), {}, r"`source_sentences` must hold at least one text, found an empty list"),
        ((["a"], []), {}, r"`target_sentences` must hold at least one text, found an empty list"),
        ((["a", 3], ["x", "y"]), {}, r"`source_sentences` must hold only strings, found int 3 at index 1"),
        ((["a"], [None]), {}, r"`target_sentences` must hold only strings, found NoneType None at index 0"),
        (("abc", ["x"]), {}, r"`source_sentences` must be a list of texts, found a single string"),
        ((["a"], ["x"]), {"teacher_model": None}, r"`teacher_model` is required"),
    ],
)
def test_clear_errors_before_encoding(args: tuple, kwargs: dict[str, Any], pattern: str, our_model: Any) -> None:
    kwargs = {"teacher_model": our_model, **kwargs}
    with recording_encode(our_model) as calls, pytest.raises(ValueError, match=pattern) as raised:
        MSEEvaluator(*args, **kwargs)
    assert str(raised.value).startswith("MSEEvaluator: ")
    assert calls == []
