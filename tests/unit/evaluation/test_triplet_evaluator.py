"""TripletEvaluator against sentence-transformers 6.2 on real SNLI triplets (all-MiniLM-L6-v2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from evaluation_helpers import NLI_SMALL, assert_csv_match, assert_metrics_match, nli_columns, recording_encode

from embedforge.evaluation import SimilarityFunction, TripletEvaluator
from embedforge.readers import InputExample

ALL_FNS = ["cosine", "euclidean", "manhattan", "dot"]

CASES: list[dict[str, Any]] = [
    {},
    {"name": "sts-dev"},
    {"name": "nli-dev", "similarity_fn_names": ALL_FNS},
    {"similarity_fn_names": ["cosine", "dot"], "margin": 0.05},
    {"similarity_fn_names": ["euclidean", "manhattan"], "margin": {"euclidean": 0.5}, "name": "nli-dev"},
    {"main_similarity_function": "dot"},
    {"main_similarity_function": SimilarityFunction.MANHATTAN, "similarity_fn_names": ["cosine", "manhattan"]},
    {"truncate_dim": 32, "name": "nli-dev"},
]


def _st_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same arguments for sentence-transformers (its own enum: pass our members by value)."""
    return {key: value.value if isinstance(value, SimilarityFunction) else value for key, value in kwargs.items()}


def _case_id(kwargs: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in kwargs.items()) or "default"


def _run_both(
    columns: tuple[list[str], list[str], list[str]],
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    ours = TripletEvaluator(*columns, **kwargs)
    theirs = st_evaluation.TripletEvaluator(*columns, **_st_kwargs(kwargs))
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=2, steps=-1)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=2, steps=-1)
    return ours, theirs, our_metrics, their_metrics


def test_default_arguments_match_sentence_transformers_on_100_triplets(
    nli_rows: list[dict[str, str]], tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        nli_columns(nli_rows, len(nli_rows)), {}, tmp_path, our_model, st_model, st_evaluation
    )
    assert list(our_metrics) == ["cosine_accuracy"]
    assert_metrics_match(our_metrics, their_metrics)
    assert our_metrics["cosine_accuracy"] > 0.8
    assert ours.primary_metric == theirs.primary_metric == "cosine_accuracy"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


@pytest.mark.parametrize("kwargs", CASES, ids=_case_id)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any],
    nli_rows: list[dict[str, str]],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
) -> None:
    ours, theirs, our_metrics, their_metrics = _run_both(
        nli_columns(nli_rows, NLI_SMALL), kwargs, tmp_path, our_model, st_model, st_evaluation
    )
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.margin == theirs.margin
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Triplet"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")


def test_each_distinct_text_is_encoded_once_per_role(nli_rows: list[dict[str, str]], our_model: Any) -> None:
    anchors, positives, negatives = nli_columns(nli_rows, NLI_SMALL)
    assert len(set(anchors)) < len(anchors)  # SNLI premises repeat: the check below is not vacuous
    with recording_encode(our_model) as calls:
        TripletEvaluator(anchors, positives, negatives)(our_model)
    assert len(calls) == 2  # encode_query for the anchors, encode_document for positives and negatives
    query_texts, document_texts = calls
    assert sorted(query_texts) == sorted(set(anchors))
    assert sorted(document_texts) == sorted(set(positives) | set(negatives))


def test_a_margin_lowers_accuracy(nli_rows: list[dict[str, str]], our_model: Any) -> None:
    columns = nli_columns(nli_rows, NLI_SMALL)
    plain = TripletEvaluator(*columns)(our_model)["cosine_accuracy"]
    assert TripletEvaluator(*columns, margin=2.0)(our_model)["cosine_accuracy"] == 0.0  # cosine gaps are < 2
    assert TripletEvaluator(*columns, margin={"cosine": 0.0})(our_model)["cosine_accuracy"] == plain


def test_deprecated_main_distance_function(caplog: pytest.LogCaptureFixture) -> None:
    evaluator = TripletEvaluator(["a"], ["b"], ["c"], name="dev", main_distance_function="dot")
    assert evaluator.main_similarity_function is SimilarityFunction.DOT_PRODUCT
    assert evaluator.primary_metric == "dev_dot_accuracy"
    assert "deprecated" in caplog.text


def test_from_input_examples() -> None:
    evaluator = TripletEvaluator.from_input_examples([InputExample(texts=["a", "p", "n"])], margin=0.1)
    assert (evaluator.anchors, evaluator.positives, evaluator.negatives) == (["a"], ["p"], ["n"])
    assert evaluator.get_config_dict() == {"margin": dict.fromkeys(ALL_FNS, 0.1)}


def test_from_input_examples_names_an_example_with_too_few_texts() -> None:
    examples = [InputExample(texts=["a", "p", "n"]), InputExample(texts=["b", "q"])]
    with pytest.raises(
        ValueError,
        match=r"TripletEvaluator.from_input_examples: every example needs 3 texts, "
        r"found 2 in example 1 \(\['b', 'q'\]\)\. Give each InputExample",
    ):
        TripletEvaluator.from_input_examples(examples)


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((["a", "b"], ["p", "q"], ["n"]), {}, r"`negatives` must have one entry per `anchors` entry \(2\), found 1"),
        ((["a"], ["p", "q"], ["n"]), {}, r"`positives` must have one entry per `anchors` entry \(1\), found 2"),
        (([], [], []), {}, r"`anchors` must hold at least one text, found an empty list"),
        ((["a"], [None], ["n"]), {}, r"`positives` must hold only strings, found NoneType None at index 0"),
        ((["a"], ["p"], ["n"]), {"main_similarity_function": "l1"}, r"`main_similarity_function` must be one of"),
        ((["a"], ["p"], ["n"]), {"similarity_fn_names": ["cosine", "jaccard"]}, r"found unknown \['jaccard'\]"),
        ((["a"], ["p"], ["n"]), {"margin": {"cos": 0.1}}, r"`margin` keys must be similarity function names"),
        ((["a"], ["p"], ["n"]), {"margin": "0.1"}, r"`margin` must be a number or a dict"),
        (
            (["a"], ["p"], ["n"]),
            {"main_similarity_function": "dot", "similarity_fn_names": ["cosine"]},
            r"`main_similarity_function`='dot' must be one of `similarity_fn_names` \['cosine'\]",
        ),
    ],
)
def test_clear_errors_before_encoding(args: tuple, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        TripletEvaluator(*args, **kwargs)
    assert str(raised.value).startswith("TripletEvaluator: ")
