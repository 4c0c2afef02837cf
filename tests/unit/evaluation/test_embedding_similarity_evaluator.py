"""EmbeddingSimilarityEvaluator against sentence-transformers 6.2 on real STS benchmark pairs (all-MiniLM-L6-v2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from evaluation_helpers import (
    STS_SMALL,
    assert_csv_match,
    assert_metrics_match,
    metrics_atol,
    recording_encode,
    sts_columns,
)

from embedforge.evaluation import EmbeddingSimilarityEvaluator, SimilarityFunction
from embedforge.readers import InputExample

ALL_FNS = ["cosine", "euclidean", "manhattan", "dot"]

CASES: list[dict[str, Any]] = [
    {},
    {"name": "sts-dev"},
    {"name": "sts-dev", "similarity_fn_names": ALL_FNS},
    {"similarity_fn_names": ["dot", "manhattan"]},
    {"main_similarity": "euclidean"},
    {"main_similarity": SimilarityFunction.MANHATTAN, "similarity_fn_names": ["cosine", "manhattan"], "name": "dev"},
    {"precision": "int8"},
    {"name": "sts-dev", "precision": "uint8", "truncate_dim": 64, "similarity_fn_names": ALL_FNS},
    {"precision": "binary"},
    {"name": "sts-dev", "precision": "ubinary"},
    {"precision": "float32"},
]


def _st_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same arguments for sentence-transformers (its own enum: pass our members by value)."""
    return {key: value.value if isinstance(value, SimilarityFunction) else value for key, value in kwargs.items()}


def _run_both(
    columns: tuple[list[str], list[str], list[float]],
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    ours = EmbeddingSimilarityEvaluator(*columns, **kwargs)
    theirs = st_evaluation.EmbeddingSimilarityEvaluator(*columns, **_st_kwargs(kwargs))
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=1, steps=10)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=1, steps=10)
    return ours, theirs, our_metrics, their_metrics


def test_default_arguments_match_sentence_transformers_on_100_pairs(
    sts_rows: list[dict[str, str]], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        sts_columns(sts_rows, len(sts_rows)), {}, tmp_path, our_model, st_model, st_evaluation
    )
    assert list(our_metrics) == ["pearson_cosine", "spearman_cosine"]
    assert_metrics_match(our_metrics, their_metrics)
    assert our_metrics["spearman_cosine"] > 0.7  # a real model on real data
    assert ours.primary_metric == theirs.primary_metric == "spearman_cosine"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def _case_id(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in kwargs.items()) or "default"


@pytest.mark.parametrize("kwargs", CASES, ids=_case_id)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any],
    sts_rows: list[dict[str, str]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        sts_columns(sts_rows, STS_SMALL), kwargs, tmp_path, our_model, st_model, st_evaluation
    )
    atol = metrics_atol(kwargs.get("precision"))
    assert_metrics_match(our_metrics, their_metrics, atol)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Semantic Similarity"
    assert_csv_match(tmp_path / "ours", tmp_path / "st", atol)


def test_each_distinct_sentence_is_encoded_once(
    sts_rows: list[dict[str, str]], our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    sentences1, sentences2, scores = sts_columns(sts_rows, STS_SMALL)
    # Pairs 12.. compare sentence i of the first list with sentence i - 12 of it, so texts repeat across the two
    # lists. (Not a sentence with itself: those cosines tie at 1.0, and sentence-transformers, which encodes each
    # list apart, breaks the ties with float rounding that depends on the batch's padding.)
    sentences2 = sentences2[:12] + sentences1[: len(sentences1) - 12]
    evaluator = EmbeddingSimilarityEvaluator(sentences1, sentences2, scores, similarity_fn_names=ALL_FNS)
    with recording_encode(our_model) as calls:
        metrics = evaluator(our_model)
    assert len(calls) == 1
    assert len(calls[0]) == len(set(calls[0])) == len(set(sentences1) | set(sentences2))
    their = st_evaluation.EmbeddingSimilarityEvaluator(sentences1, sentences2, scores, similarity_fn_names=ALL_FNS)
    assert_metrics_match(metrics, their(st_model))


def test_primary_metric_is_known_before_the_first_call_when_functions_are_given() -> None:
    evaluator = EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [0.1, 0.2], name="dev", main_similarity="dot")
    assert evaluator.primary_metric == "dev_spearman_dot"
    assert EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [0.1, 0.2]).primary_metric is None


def test_from_input_examples() -> None:
    examples = [InputExample(texts=["a", "b"], label=0.5), InputExample(texts=["c", "d"], label=0.25)]
    evaluator = EmbeddingSimilarityEvaluator.from_input_examples(examples, name="dev")
    assert (evaluator.sentences1, evaluator.sentences2, evaluator.scores) == (["a", "c"], ["b", "d"], [0.5, 0.25])
    assert evaluator.name == "dev"


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        (
            (["a", "b"], ["c"], [0.1, 0.2]),
            {},
            r"`sentences2` must have one entry per `sentences1` entry \(2\), found 1",
        ),
        ((["a", "b"], ["c", "d"], [0.1]), {}, r"`scores` must have one entry per `sentences1` entry \(2\), found 1"),
        (([], [], []), {}, r"`sentences1` must hold at least one text, found an empty list"),
        ((["a"], ["b"], [0.5]), {}, r"must hold at least 2 pairs \(a correlation needs two points\), found 1"),
        ((["a", 3], ["b", "c"], [0.5, 0.1]), {}, r"`sentences1` must hold only strings, found int 3 at index 1"),
        (("ab", "cd", [0.5, 0.1]), {}, r"`sentences1` must be a list of texts, found a single string"),
        ((["a", "b"], ["c", "d"], ["x", 0.1]), {}, r"`scores` must hold one number per sentence pair"),
        ((["a", "b"], ["c", "d"], [[0.1], [0.2]]), {}, r"`scores` must be a flat list with one number per"),
        ((["a", "b"], ["c", "d"], [0.5, 0.1]), {"main_similarity": "cos"}, r"`main_similarity` must be one of"),
        ((["a", "b"], ["c", "d"], [0.5, 0.1]), {"similarity_fn_names": ["cosine", "l2"]}, r"found unknown \['l2'\]"),
        ((["a", "b"], ["c", "d"], [0.5, 0.1]), {"similarity_fn_names": ["dot", "dot"]}, r"must not repeat a name"),
        (
            (["a", "b"], ["c", "d"], [0.5, 0.1]),
            {"similarity_fn_names": ["dot"], "main_similarity": "cosine"},
            r"`main_similarity`='cosine' must be one of `similarity_fn_names` \['dot'\]",
        ),
        ((["a", "b"], ["c", "d"], [0.5, 0.1]), {"precision": "int4"}, r"`precision` must be None or one of"),
    ],
)
def test_clear_errors_before_encoding(args: tuple, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        EmbeddingSimilarityEvaluator(*args, **kwargs)
    assert str(raised.value).startswith("EmbeddingSimilarityEvaluator: ")
