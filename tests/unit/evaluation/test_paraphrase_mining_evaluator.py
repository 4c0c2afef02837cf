"""ParaphraseMiningEvaluator against sentence-transformers 6.2 on real Flickr8k captions and MRPC paraphrases
(all-MiniLM-L6-v2), plus hand-computed metrics and argument errors."""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_csv_match, assert_metrics_match, recording_encode

from embedforge.evaluation.paraphrase_mining import ParaphraseMiningEvaluator, mining_metrics

IMAGES = 40
"""Flickr8k images used (5 captions each: 200 sentences)."""
MRPC_ROWS = 50
"""Rows of mrpc/test.csv used."""

Captions = dict[str, list[tuple[str, str]]]
"""Image id to its ``(caption id, caption)`` list."""


@pytest.fixture(scope="module")
def captions(shared_data: Path) -> Captions:
    """The captions of the first IMAGES images of flickr8k-captions, grouped by image."""
    groups: Captions = {}
    with gzip.open(shared_data / "flickr8k-captions" / "captions.csv.gz", "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["image_id"] not in groups and len(groups) == IMAGES:
                break
            groups.setdefault(row["image_id"], []).append((f"{row['image_id']}#{row['caption_index']}", row["caption"]))
    return groups


def _sentences_map(groups: Captions) -> dict[str, str]:
    return {caption_id: text for group in groups.values() for caption_id, text in group}


def _all_pairs(groups: Captions) -> list[tuple[str, str]]:
    """Every two captions of the same image (10 pairs per image)."""
    return [(a, b) for group in groups.values() for (a, _), (b, _) in itertools.combinations(group, 2)]


def _chain_pairs(groups: Captions) -> list[tuple[str, str]]:
    """Only consecutive captions of each image (4 pairs per image): the closure gives all pairs back."""
    return [(a, b) for group in groups.values() for (a, _), (b, _) in itertools.pairwise(group)]


def _st_duplicates_dict(pairs: list[tuple[str, str]]) -> defaultdict[str, defaultdict[str, bool]]:
    """The nested defaultdict sentence-transformers needs (it indexes unknown ids and writes into the dict)."""
    graph: defaultdict[str, defaultdict[str, bool]] = defaultdict(lambda: defaultdict(bool))
    for a, b in pairs:
        graph[a][b] = graph[b][a] = True
    return graph


def _run_both(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    st_kwargs: dict[str, Any] | None = None,
) -> tuple[Any, Any, dict[str, float], dict[str, float]]:
    ours = ParaphraseMiningEvaluator(*args, **kwargs)
    theirs = st_evaluation.ParaphraseMiningEvaluator(*args, **(kwargs if st_kwargs is None else st_kwargs))
    our_metrics = ours(our_model, output_path=str(tmp_path / "ours"), epoch=1, steps=50)
    their_metrics = theirs(st_model, output_path=str(tmp_path / "st"), epoch=1, steps=50)
    assert_metrics_match(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.total_num_duplicates == theirs.total_num_duplicates
    assert ours.csv_file == theirs.csv_file
    assert ours.csv_headers == theirs.csv_headers
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description == "Paraphrase Mining"
    assert_csv_match(tmp_path / "ours", tmp_path / "st")
    return ours, theirs, our_metrics, their_metrics


def test_flickr_captions_match_sentence_transformers(
    captions: Captions, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    sentences = _sentences_map(captions)
    assert len(sentences) == 5 * IMAGES
    ours, _, metrics, _ = _run_both(
        (sentences, _all_pairs(captions)), {"name": "flickr"}, tmp_path, our_model, st_model, st_evaluation
    )
    assert list(metrics) == [f"flickr_{key}" for key in ("average_precision", "f1", "precision", "recall", "threshold")]
    assert ours.primary_metric == "flickr_average_precision"
    assert ours.total_num_duplicates == 10 * IMAGES
    assert 0.3 < metrics["flickr_average_precision"] < 1  # a real model on real data: far better than chance
    assert 0 < metrics["flickr_threshold"] < 1


def test_transitive_closure_of_chains_equals_all_pairs(
    captions: Captions, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    sentences = _sentences_map(captions)
    _, _, closed, _ = _run_both(
        (sentences, _chain_pairs(captions)),
        {"add_transitive_closure": True, "name": "closure"},
        tmp_path,
        our_model,
        st_model,
        st_evaluation,
    )
    full = ParaphraseMiningEvaluator(sentences, _all_pairs(captions), name="closure")
    assert (
        full.gold_pairs
        == ParaphraseMiningEvaluator(sentences, _chain_pairs(captions), add_transitive_closure=True).gold_pairs
    )
    assert_metrics_match(closed, full(our_model), atol=1e-12)
    chains_only = ParaphraseMiningEvaluator(sentences, _chain_pairs(captions))
    assert chains_only.total_num_duplicates == 4 * IMAGES


@pytest.mark.parametrize(
    "kwargs",
    [
        {"top_k": 3, "max_pairs": 150},
        {"query_chunk_size": 64, "corpus_chunk_size": 50},
    ],
    ids=["top_k-max_pairs", "chunks"],
)
def test_settings_match_sentence_transformers(
    kwargs: dict[str, Any], captions: Captions, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    _run_both((_sentences_map(captions), _all_pairs(captions)), kwargs, tmp_path, our_model, st_model, st_evaluation)


def test_truncate_dim_and_batch_size_match_sentence_transformers(
    captions: Captions, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    few = dict(itertools.islice(captions.items(), 12))  # new encode settings: a smaller slice keeps it fast
    kwargs = {"truncate_dim": 64, "batch_size": 8, "name": "flickr-64"}
    _run_both((_sentences_map(few), _all_pairs(few)), kwargs, tmp_path, our_model, st_model, st_evaluation)


def test_duplicates_dict_with_closure_matches_sentence_transformers(
    captions: Captions, tmp_path: Path, our_model: Any, st_model: Any, st_evaluation: Any
) -> None:
    chains = _chain_pairs(captions)
    plain = {a: {b: True} for a, b in chains}  # one direction only, a plain dict: both are read as symmetric
    plain[chains[0][0]][chains[1][1]] = False  # false entries are not duplicates
    sentences = _sentences_map(captions)
    _run_both(
        (sentences,),
        {"duplicates_dict": plain, "add_transitive_closure": True},
        tmp_path,
        our_model,
        st_model,
        st_evaluation,
        st_kwargs={"duplicates_dict": _st_duplicates_dict(chains), "add_transitive_closure": True},
    )


def test_mrpc_paraphrases_match_sentence_transformers(
    shared_data: Path,
    tmp_path: Path,
    our_model: Any,
    st_model: Any,
    st_evaluation: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with open(shared_data / "mrpc" / "test.csv", newline="", encoding="utf-8") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), MRPC_ROWS))
    sentences = {row[f"id{side}"]: row[f"sentence{side}"] for row in rows for side in (1, 2)}
    positives = [(row["id1"], row["id2"]) for row in rows if row["label"] == "1"]
    unknown = [("no-such-id", rows[0]["id1"])]  # ignored by both libraries (we also warn)
    with caplog.at_level(logging.WARNING):
        _, _, metrics, _ = _run_both(
            (sentences, positives + unknown), {"name": "mrpc"}, tmp_path, our_model, st_model, st_evaluation
        )
    assert "'no-such-id'" in caplog.text
    assert metrics["mrpc_average_precision"] > 0.3


def test_each_distinct_sentence_is_encoded_once(captions: Captions, our_model: Any) -> None:
    sentences = _sentences_map(captions)
    first_id, first_text = next(iter(sentences.items()))
    sentences["copy"] = first_text  # the same text under a second id
    evaluator = ParaphraseMiningEvaluator(sentences, [*_all_pairs(captions), (first_id, "copy")])
    with recording_encode(our_model) as calls:
        pairs = evaluator.mine_pairs(our_model)
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted(set(sentences.values()))
    top_score, i, j = pairs[0]
    assert {evaluator.ids[i], evaluator.ids[j]} == {first_id, "copy"}
    assert top_score == pytest.approx(1.0, abs=1e-5)


def test_mining_metrics_by_hand() -> None:
    # Ranked pairs: hit, (miss, hit tied at 0.8), miss, hit; 4 gold duplicates, one never mined.
    metrics = mining_metrics([0.9, 0.8, 0.8, 0.7, 0.6], [True, False, True, False, True], total_duplicates=4)
    # Precision when each hit is counted: 1/1, 2/3 (after the whole tie), 3/5; the missed pair adds 0.
    assert metrics["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)
    # F1 at the three steps: 0.4, 4/7, 2/3: the best is the last step, threshold halfway to the next score
    # (the last score itself, as there is none after it).
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert (metrics["precision"], metrics["recall"], metrics["threshold"]) == pytest.approx((0.6, 0.75, 0.6))
    assert mining_metrics([0.5, 0.4], [False, False], total_duplicates=1) == {
        "average_precision": 0.0,
        "f1": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "threshold": 0.0,
    }


def test_mining_metrics_against_a_brute_force_reference() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = sorted(rng.integers(0, 6, size=12) / 5, reverse=True)  # many ties
        hits = list(rng.random(12) < 0.4)
        total = sum(hits) + int(rng.integers(1, 3))
        # Reference: at every distinct score, all pairs scoring at least that much are accepted.
        steps = [
            (sum(hits[: index + 1]), index + 1, (score + scores[min(index + 1, 11)]) / 2)
            for index, score in enumerate(scores)
            if index == 11 or scores[index + 1] != score
        ]
        gains = [
            (found - before) * found / accepted
            for (found, accepted, _), before in zip(steps, [0] + [s[0] for s in steps], strict=False)
        ]
        f1s = [2 * found / (accepted + total) for found, accepted, _ in steps]
        metrics = mining_metrics(scores, hits, total)
        assert metrics["average_precision"] == pytest.approx(sum(gains) / total)
        assert metrics["f1"] == pytest.approx(max(f1s))
        if max(f1s) > 0:
            assert metrics["threshold"] == pytest.approx(steps[int(np.argmax(f1s))][2])


def test_add_transitive_closure_static_method() -> None:
    closed = ParaphraseMiningEvaluator.add_transitive_closure({"a": {"b": True, "x": False}, "b": {"c": True}})
    assert closed["a"] == {"b": True, "x": False, "c": True}
    assert closed["c"] == {"a": True, "b": True}
    assert "x" not in closed


def test_primary_metric_and_config_before_the_first_call() -> None:
    evaluator = ParaphraseMiningEvaluator({"a": "x", "b": "y"}, [("a", "b")], name="dev", truncate_dim=32)
    assert evaluator.primary_metric == "dev_average_precision"
    assert evaluator.greater_is_better
    assert evaluator.get_config_dict() == {
        "add_transitive_closure": False,
        "max_pairs": 500000,
        "top_k": 100,
        "truncate_dim": 32,
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        (({"a": "x", "b": "y"},), {}, r"no gold duplicates given\. Pass `duplicates_list`"),
        ((["x", "y"], [(0, 1)]), {}, r"`sentences_map` must be a dict from sentence id to sentence, found list"),
        (({}, [("a", "b")]), {}, r"`sentences_map` must hold at least one text, found an empty list"),
        (({"a": "x", "b": None}, [("a", "b")]), {}, r"`sentences_map` must hold only strings, found NoneType"),
        (({"a": "x", "b": "y"}, [("a", "b", "c")]), {}, r"entries must be \(id1, id2\) pairs, found \('a', 'b', 'c'\)"),
        (({"a": "x", "b": "y"}, ["ab"]), {}, r"entries must be \(id1, id2\) pairs, found 'ab' at index 0"),
        (({"a": "x", "b": "y"}, {"a": "b"}), {}, r"`duplicates_list` must be a list of \(id1, id2\) pairs, found dict"),
        (({"a": "x", "b": "y"},), {"duplicates_dict": {"a": "b"}}, r"`duplicates_dict` must map an id to a dict"),
        (({"a": "x", "b": "y"},), {"duplicates_dict": {"a": None}}, r"found NoneType None under 'a'"),
        (({"a": "x", "b": "y"},), {"duplicates_dict": [("a", "b")]}, r"to a dict \{other_id: True\}, found list"),
        (({"a": "x", "b": "y"}, [("a", "c"), ("b", "b")]), {}, r"none of the gold duplicate pairs joins two different"),
        (({"a": "x", "b": "y"}, [("a", "b")]), {"top_k": 0}, r"`top_k` must be a positive integer, found 0"),
        (({"a": "x", "b": "y"}, [("a", "b")]), {"max_pairs": 1.5}, r"`max_pairs` must be a positive integer"),
    ],
)
def test_clear_errors_before_encoding(args: tuple, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as raised:
        ParaphraseMiningEvaluator(*args, **kwargs)
    assert str(raised.value).startswith("ParaphraseMiningEvaluator: ")
