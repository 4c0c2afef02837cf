"""TranslationEvaluator against sentence-transformers 6.2 on real Tatoeba pairs (all-MiniLM-L6-v2)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_csv_match, assert_metrics_match, recording_encode

from embedforge.evaluation.translation import TranslationEvaluator

PAIRS = 50
"""Sentence pairs of a Tatoeba file used by the parity checks."""

CASES: list[dict[str, Any]] = [
    {},
    {"name": "tatoeba-en-de"},
    {"name": "en-de", "truncate_dim": 64},
]


def _case_id(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in kwargs.items()) or "default"


def _read_tatoeba(path: Path) -> tuple[list[str], list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["english", "non_english"]
    rows = [line.split("\t") for line in lines[1 : PAIRS + 1]]
    return [row[0] for row in rows], [row[1] for row in rows]


@pytest.fixture(scope="module")
def en_de(shared_data: Path) -> tuple[list[str], list[str]]:
    """The first PAIRS (English, German) pairs of the Tatoeba test set."""
    return _read_tatoeba(shared_data / "tatoeba" / "deu-eng.tsv")


def _run_both(
    columns: tuple[list[str], list[str]],
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    ours = TranslationEvaluator(*columns, **kwargs)
    theirs = st_evaluation.TranslationEvaluator(*columns, **kwargs)
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=0, steps=100)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=0, steps=100)
    return ours, theirs, our_metrics, their_metrics


def _reference_accuracy(source: np.ndarray, target: np.ndarray, targets: list[str]) -> float:
    """Share of sources whose most cosine-similar target has the text of their own translation."""
    source = source / np.linalg.norm(source, axis=1, keepdims=True)
    target = target / np.linalg.norm(target, axis=1, keepdims=True)
    best = (source @ target.T).argmax(axis=1)
    return float(np.mean([targets[j] == targets[i] for i, j in enumerate(best)]))


@pytest.mark.parametrize("kwargs", CASES, ids=_case_id)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any],
    en_de: tuple[list[str], list[str]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(en_de, kwargs, tmp_path, our_model, st_model, st_evaluation)
    prefix = f"{kwargs['name']}_" if "name" in kwargs else ""
    assert list(our_metrics) == [f"{prefix}src2trg_accuracy", f"{prefix}trg2src_accuracy", f"{prefix}mean_accuracy"]
    assert_metrics_match(our_metrics, their_metrics)
    assert 0 < our_metrics[f"{prefix}mean_accuracy"] < 1  # an English model finds some German translations
    assert ours.primary_metric == theirs.primary_metric == f"{prefix}mean_accuracy"
    assert ours.greater_is_better and theirs.greater_is_better
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers == ["epoch", "steps", "src2trg", "trg2src"]
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Translation"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_accuracies_equal_a_reference_computation(en_de: tuple[list[str], list[str]], our_model: Any) -> None:
    english, german = en_de
    source, target = (np.asarray(our_model.encode(texts), dtype=np.float64) for texts in (english, german))
    src2trg = _reference_accuracy(source, target, german)
    trg2src = _reference_accuracy(target, source, english)
    metrics = TranslationEvaluator(english, german, name="dev")(our_model)
    expected = {"dev_src2trg_accuracy": src2trg, "dev_trg2src_accuracy": trg2src}
    assert metrics == pytest.approx({**expected, "dev_mean_accuracy": (src2trg + trg2src) / 2}, abs=1e-12)


def test_repeated_translations_count_as_correct_and_are_embedded_once(
    en_de: tuple[list[str], list[str]], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    english, german = en_de
    english, german = english[:20] + english[:5], german[:20] + german[:5]
    with recording_encode(our_model) as calls:
        _, _, our_metrics, their_metrics = _run_both(
            (english, german), {}, tmp_path, our_model, st_model, st_evaluation
        )
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted(set(english) | set(german))
    assert_metrics_match(our_metrics, their_metrics)
    # the copies of a pair score as the original: a best match on either copy of a translation has the right text
    source, target = (np.asarray(our_model.encode(texts), dtype=np.float64) for texts in (english, german))
    assert our_metrics["src2trg_accuracy"] == pytest.approx(_reference_accuracy(source, target, german), abs=1e-12)
    assert our_metrics["trg2src_accuracy"] == pytest.approx(_reference_accuracy(target, source, english), abs=1e-12)


def test_texts_shared_with_an_mse_evaluator_are_embedded_once_in_a_sequence(
    en_de: tuple[list[str], list[str]], our_model: Any
) -> None:
    from embedforge.evaluation.mse import MSEEvaluator
    from embedforge.evaluation.sequential import SequentialEvaluator

    english, german = en_de
    mse = MSEEvaluator(english, german, teacher_model=our_model, name="mse")
    translation = TranslationEvaluator(english, german, name="tr")
    alone = {**mse(our_model), **translation(our_model)}
    with recording_encode(our_model) as calls:
        together = SequentialEvaluator([mse, translation])(our_model)
    assert calls == [list(dict.fromkeys(german)), list(dict.fromkeys(english))]  # German once, for both
    assert together == {**alone, "sequential_score": alone["tr_mean_accuracy"]}


def test_tiny_student_matches_sentence_transformers(
    en_de: tuple[list[str], list[str]], tmp_path: Path, tiny_bert_path: Path, st_evaluation: Any
) -> None:
    from sentence_transformers import SentenceTransformer as STModel

    from embedforge import SentenceTransformer

    _, _, our_metrics, their_metrics = _run_both(
        en_de,
        {"name": "tiny"},
        tmp_path,
        SentenceTransformer(str(tiny_bert_path), device="cpu"),
        STModel(str(tiny_bert_path), device="cpu"),
        st_evaluation,
    )
    assert_metrics_match(our_metrics, their_metrics)
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_print_wrong_matches_prints_what_sentence_transformers_prints(
    en_de: tuple[list[str], list[str]],
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    english, german = en_de
    metrics = TranslationEvaluator(english, german, print_wrong_matches=True)(our_model)
    ours = capsys.readouterr().out
    st_evaluation.TranslationEvaluator(english, german, print_wrong_matches=True)(st_model)
    theirs = capsys.readouterr().out
    wrong = round((1 - metrics["src2trg_accuracy"]) * len(english))
    assert wrong > 0
    assert ours.count("Incorrect  : Source") == wrong
    scores = re.compile(r"Score: -?\d\.\d{4}")  # the last printed digit may differ between the two encoders
    assert scores.sub("Score", ours) == scores.sub("Score", theirs)
    assert TranslationEvaluator(english, german)(our_model) == metrics
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((["a", "b"], ["x"]), r"`target_sentences` must have one entry per `source_sentences` entry \(2\), found 1"),
        ((["a"], ["x", "y"]), r"`target_sentences` must have one entry per `source_sentences` entry \(1\), found 2"),
        (([], []), r"`source_sentences` must hold at least one text, found an empty list"),
        ((["a"], []), r"`target_sentences` must hold at least one text, found an empty list"),
        ((["a", 3], ["x", "y"]), r"`source_sentences` must hold only strings, found int 3 at index 1"),
        ((["a"], [None]), r"`target_sentences` must hold only strings, found NoneType None at index 0"),
        ((["a"], "x"), r"`target_sentences` must be a list of texts, found a single string"),
    ],
)
def test_clear_errors(args: tuple, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        TranslationEvaluator(*args)
    assert str(raised.value).startswith("TranslationEvaluator: ")
