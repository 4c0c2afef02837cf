"""mine_hard_negatives: output equal to sentence-transformers 6.2 for every format and option, and clear errors.

Both libraries load the same all-MiniLM-L6-v2 folder; the data are Flickr8k caption pairs (each anchor caption has
one to four positives: the other captions of its image) plus captions of other images as an extra corpus. Both
models get a memoizing ``encode`` so that the many parity cases embed each text set once per library.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from embedforge.util import mine_hard_negatives
from model_builders import build_tiny_classifier, build_tokenizer_files

pytestmark = pytest.mark.interop
SCORE_ATOL = 1e-5


def _memoize_encode(model: Any) -> Any:
    original = model.encode
    cache: dict[str, Any] = {}

    def encode(*args: Any, **kwargs: Any) -> Any:
        key = repr((args, sorted(kwargs.items())))
        if key not in cache:
            cache[key] = original(*args, **kwargs)
        return cache[key].copy()

    model.encode = encode
    return model


@pytest.fixture(scope="module")
def st_util() -> Any:
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import util

    return util


@pytest.fixture(scope="module")
def models(minilm_path: Path, st_util: Any) -> tuple[Any, Any]:
    """``(ours, theirs)``: all-MiniLM-L6-v2 in embedforge and in sentence-transformers, with memoized encode."""
    from sentence_transformers import SentenceTransformer as STSentenceTransformer

    from embedforge import SentenceTransformer

    return (
        _memoize_encode(SentenceTransformer(str(minilm_path), device="cpu")),
        _memoize_encode(STSentenceTransformer(str(minilm_path), device="cpu")),
    )


@pytest.fixture(scope="module")
def pairs(shared_data: Path) -> Any:
    """60 (anchor, positive) caption pairs of 6 images: 24 distinct anchors with 4, 3, 2 or 1 positives."""
    from datasets import Dataset

    with gzip.open(shared_data / "flickr8k-captions" / "validation_pairs.csv.gz", "rt", encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(60), csv.DictReader(handle), strict=False)]
    return Dataset.from_dict(
        {
            "anchor": [row["anchor"] for row in rows],
            "positive": [row["positive"] for row in rows],
            "image": [row["image_id"] for row in rows],
        }
    )


@pytest.fixture(scope="module")
def extra_corpus(shared_data: Path, pairs: Any) -> list[str]:
    """30 captions of other validation images."""
    images = set(pairs["image"])
    with gzip.open(shared_data / "flickr8k-captions" / "captions.csv.gz", "rt", encoding="utf-8") as handle:
        captions = [
            row["caption"]
            for row in csv.DictReader(handle)
            if row["split"] == "validation" and row["image_id"] not in images
        ]
    return captions[:30]


def build_spread_classifier(folder: Path) -> Path:
    """A tiny random one-label BERT classifier (hidden 32) whose sigmoid scores spread over (0, 1).

    ``model_builders.build_tiny_classifier`` uses BERT's default initializer range (0.02): its scores then all lie
    within 1e-5 of 0.5, where float noise could reorder candidates. An initializer range of 0.5 spreads them.
    """
    from transformers import BertConfig, BertForSequenceClassification

    build_tokenizer_files(folder)
    vocab_size = len((folder / "vocab.txt").read_text(encoding="utf-8").split())
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=1,
        initializer_range=0.5,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).eval().save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def cross_encoders(tmp_path_factory: pytest.TempPathFactory, st_util: Any) -> tuple[Any, Any]:
    """``(ours, theirs)``: the same tiny one-label cross-encoder in both libraries."""
    from sentence_transformers import CrossEncoder as STCrossEncoder

    from embedforge import CrossEncoder

    path = build_spread_classifier(tmp_path_factory.mktemp("tiny-ce"))
    return CrossEncoder(str(path), device="cpu"), STCrossEncoder(str(path), device="cpu")


def assert_same_dataset(ours: Any, theirs: Any) -> None:
    """Same columns (names and types), rows and texts; scores within ``SCORE_ATOL``."""
    assert ours.column_names == theirs.column_names
    assert ours.features == theirs.features
    assert len(ours) == len(theirs)
    for column in ours.column_names:
        if column in ("score", "scores"):
            for mine, reference in zip(ours[column], theirs[column], strict=True):
                np.testing.assert_allclose(mine, reference, atol=SCORE_ATOL, rtol=0)
        else:
            assert ours[column] == theirs[column], column


def both(models: tuple[Any, Any], st_util: Any, dataset: Any, **kwargs: Any) -> tuple[Any, Any]:
    ours_model, st_model = models
    ours = mine_hard_negatives(dataset, ours_model, verbose=False, **kwargs)
    theirs = st_util.mine_hard_negatives(dataset, st_model, verbose=False, **kwargs)
    return ours, theirs


PARITY_CASES = {
    "triplet": {},
    "triplet-scores": {"output_scores": True},
    "n-tuple": {"output_format": "n-tuple", "num_negatives": 2},
    "n-tuple-scores": {"output_format": "n-tuple", "output_scores": True, "num_negatives": 4},
    "labeled-pair": {"output_format": "labeled-pair"},
    "labeled-pair-scores": {"output_format": "labeled-pair", "output_scores": True},
    "labeled-list": {"output_format": "labeled-list", "num_negatives": 5},
    "labeled-list-scores": {"output_format": "labeled-list", "output_scores": True},
    "range": {"range_min": 3, "range_max": 9, "num_negatives": 4, "output_scores": True},
    "range-beyond-corpus": {"range_max": 40, "num_negatives": 30, "output_format": "labeled-list"},
    "absolute-margin": {"absolute_margin": 0.05, "output_format": "n-tuple", "output_scores": True},
    "absolute-margin-zero": {"absolute_margin": 0.0, "output_scores": True},
    "relative-margin": {"relative_margin": 0.1, "output_format": "labeled-list", "output_scores": True},
    "max-min-score": {"max_score": 0.6, "min_score": 0.2, "num_negatives": 5, "output_scores": True},
    "min-score": {"min_score": 0.25, "output_format": "labeled-pair", "output_scores": True},
    "include-positives": {"include_positives": True, "num_negatives": 6, "output_scores": True},
    "deprecated-n-tuple-scores": {"output_format": "n-tuple-scores"},
    "deprecated-as-triplets": {"as_triplets": False, "output_scores": True},
    "deprecated-margin": {"margin": 0.05, "output_scores": True},
    "prompts": {"query_prompt": "query: ", "corpus_prompt": "photo: ", "output_scores": True},
    "small-search-chunks": {"faiss_batch_size": 5, "output_scores": True, "range_max": 12},
}


@pytest.mark.parametrize("kwargs", list(PARITY_CASES.values()), ids=list(PARITY_CASES))
def test_equals_sentence_transformers(
    models: tuple[Any, Any], st_util: Any, pairs: Any, kwargs: dict[str, Any]
) -> None:
    ours, theirs = both(models, st_util, pairs, **kwargs)
    assert len(ours) > 0
    assert_same_dataset(ours, theirs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"output_scores": True},
        {"output_format": "labeled-pair", "range_min": 2},
        {"relative_margin": 0.05, "output_format": "n-tuple", "num_negatives": 5},
    ],
)
def test_separate_corpus_equals_sentence_transformers(
    models: tuple[Any, Any], st_util: Any, pairs: Any, extra_corpus: list[str], kwargs: dict[str, Any]
) -> None:
    ours, theirs = both(models, st_util, pairs, corpus=extra_corpus, **kwargs)
    assert_same_dataset(ours, theirs)
    documents = {text for column in ours.column_names[1:] for text in ours[column] if isinstance(text, str)}
    assert documents & set(extra_corpus), "the extra corpus gave no negative"


def test_named_columns_and_other_columns_dropped(models: tuple[Any, Any], st_util: Any, pairs: Any) -> None:
    reordered = pairs.select_columns(["image", "positive", "anchor"])
    ours, theirs = both(
        models, st_util, reordered, anchor_column_name="anchor", positive_column_name="positive", output_scores=True
    )
    assert ours.column_names == ["anchor", "positive", "negative", "scores"]
    assert_same_dataset(ours, theirs)


def test_repeated_anchors_and_triplet_rows(models: tuple[Any, Any], pairs: Any) -> None:
    """Each (anchor, positive) row gets the anchor's negatives; no negative is a positive of its anchor."""
    result = mine_hard_negatives(pairs, models[0], num_negatives=2, verbose=False)
    positives_of: dict[str, set[str]] = {}
    for anchor, positive in zip(pairs["anchor"], pairs["positive"], strict=True):
        positives_of.setdefault(anchor, set()).add(positive)
    assert len(result) == 2 * len(pairs)
    for anchor, positive, negative in zip(result["anchor"], result["positive"], result["negative"], strict=True):
        assert positive in positives_of[anchor] and negative not in positives_of[anchor]


def test_sampling_random(models: tuple[Any, Any], st_util: Any, pairs: Any, extra_corpus: list[str]) -> None:
    """Random negatives are valid candidates, sorted by score; Python's random under one seed gives ST's draw."""
    kwargs = {
        "sampling_strategy": "random",
        "range_max": 20,
        "num_negatives": 3,
        "corpus": extra_corpus,
        "output_format": "n-tuple",
        "output_scores": True,
    }
    random.seed(12)
    ours = mine_hard_negatives(pairs, models[0], verbose=False, **kwargs)
    random.seed(12)
    theirs = st_util.mine_hard_negatives(pairs, models[1], verbose=False, **kwargs)
    assert_same_dataset(ours, theirs)
    top = mine_hard_negatives(pairs, models[0], verbose=False, **{**kwargs, "sampling_strategy": "top"})
    assert ours["negative_1"] != top["negative_1"]
    pool = mine_hard_negatives(
        pairs, models[0], verbose=False, **{**kwargs, "sampling_strategy": "top", "num_negatives": 20}
    )
    candidates = {row["anchor"]: {row[f"negative_{i}"] for i in range(1, 21)} for row in pool}
    assert len(ours) == len(pairs)
    for row in ours:
        negatives = [row[f"negative_{i}"] for i in range(1, 4)]
        assert len(set(negatives)) == 3 and set(negatives) <= candidates[row["anchor"]]
        assert row["scores"][1:] == sorted(row["scores"][1:], reverse=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"relative_margin": 0.0, "range_max": 10, "output_scores": True},
        {"min_score": 0.2, "num_negatives": 1, "output_format": "labeled-list", "output_scores": True},
        {
            "absolute_margin": 0.05,
            "max_score": 0.8,
            "range_max": 12,
            "output_format": "labeled-pair",
            "output_scores": True,
        },
    ],
)
def test_cross_encoder_rescoring_equals_sentence_transformers(
    models: tuple[Any, Any], cross_encoders: tuple[Any, Any], st_util: Any, pairs: Any, kwargs: dict[str, Any]
) -> None:
    ours_ce, st_ce = cross_encoders
    ours = mine_hard_negatives(pairs, models[0], cross_encoder=ours_ce, verbose=False, **kwargs)
    theirs = st_util.mine_hard_negatives(pairs, models[1], cross_encoder=st_ce, verbose=False, **kwargs)
    assert len(ours) > 0
    assert_same_dataset(ours, theirs)
    plain = mine_hard_negatives(pairs, models[0], verbose=False, **kwargs)
    score_column = ours.column_names[-1]
    assert score_column.startswith("score") and plain[score_column] != ours[score_column]


def test_cross_encoder_unused_without_a_filter(
    models: tuple[Any, Any], cross_encoders: tuple[Any, Any], pairs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours_ce = cross_encoders[0]
    calls: list[int] = []
    monkeypatch.setattr(ours_ce, "predict", lambda *args, **kwargs: calls.append(1))
    with_ce = mine_hard_negatives(pairs, models[0], cross_encoder=ours_ce, output_scores=True, verbose=False)
    without = mine_hard_negatives(pairs, models[0], output_scores=True, verbose=False)
    assert not calls
    assert with_ce.to_dict() == without.to_dict()


def test_cross_encoder_with_several_labels_is_refused(models: tuple[Any, Any], pairs: Any, tmp_path: Path) -> None:
    from embedforge import CrossEncoder

    three_labels = CrossEncoder(str(build_tiny_classifier(tmp_path / "ce3", num_labels=3)), device="cpu")
    with pytest.raises(ValueError, match="num_labels=3"):
        mine_hard_negatives(pairs, models[0], cross_encoder=three_labels, max_score=0.9, verbose=False)


def test_verbose_report_equals_sentence_transformers(
    models: tuple[Any, Any], st_util: Any, pairs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    kwargs = {
        "range_min": 1,
        "range_max": 9,
        "relative_margin": 0.1,
        "max_score": 0.35,
        "output_format": "n-tuple",
        "num_negatives": 5,
    }
    mine_hard_negatives(pairs, models[0], **kwargs)
    ours = capsys.readouterr().out
    st_util.mine_hard_negatives(pairs, models[1], **kwargs)
    theirs = capsys.readouterr().out
    assert "Skipped" in ours and "Could not find enough negatives" in ours and "Median" in ours
    assert ours == theirs


def test_cache_folder(models: tuple[Any, Any], pairs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = mine_hard_negatives(pairs, models[0], cache_folder=str(tmp_path), output_scores=True)
    files = sorted(path.name for path in tmp_path.iterdir())
    assert [name.split("_")[0] for name in files] == ["corpus", "query"] and all(f.endswith(".npy") for f in files)
    capsys.readouterr()
    second = mine_hard_negatives(pairs, models[0], cache_folder=str(tmp_path), output_scores=True)
    out = capsys.readouterr().out
    assert "[Cache] Loaded query embeddings" in out and "[Cache] Loaded corpus embeddings" in out
    assert first.to_dict() == second.to_dict()
    mine_hard_negatives(pairs, models[0], cache_folder=str(tmp_path), query_prompt="query: ", verbose=False)
    assert len(list(tmp_path.iterdir())) == 3  # a new query file; the corpus file is reused


@pytest.mark.parametrize("library", ["faiss", "usearch"])
def test_search_libraries_equal_torch_search(
    models: tuple[Any, Any], st_util: Any, pairs: Any, extra_corpus: list[str], library: str
) -> None:
    if importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed (extra embedforge[{library}])")
    kwargs = {
        "corpus": extra_corpus,
        "output_format": "n-tuple",
        "output_scores": True,
        "num_negatives": 4,
        "relative_margin": 0.05,
        "faiss_batch_size": 23,
        "verbose": False,
    }
    exact = mine_hard_negatives(pairs, models[0], **kwargs)
    other = mine_hard_negatives(pairs, models[0], **{f"use_{library}": True}, **kwargs)
    assert_same_dataset(other, exact)
    if library == "faiss":
        assert_same_dataset(other, st_util.mine_hard_negatives(pairs, models[1], use_faiss=True, **kwargs))
    padded = mine_hard_negatives(
        pairs,
        models[0],
        range_max=80,
        num_negatives=70,
        output_format="labeled-list",
        **{f"use_{library}": True},
        verbose=False,
    )
    reference = mine_hard_negatives(
        pairs, models[0], range_max=80, num_negatives=70, output_format="labeled-list", verbose=False
    )
    assert padded["positive"] == reference["positive"]


@pytest.mark.parametrize("library", ["faiss", "usearch"])
def test_missing_search_library_names_the_extra(pairs: Any, library: str) -> None:
    if importlib.util.find_spec(library) is not None:
        pytest.skip(f"{library} is installed")
    with pytest.raises(ImportError, match=rf"embedforge\[{library}\]"):
        mine_hard_negatives(pairs, None, **{f"use_{library}": True})  # type: ignore[arg-type]


def test_warnings_for_deprecated_and_overridden_arguments(
    models: tuple[Any, Any], pairs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        result = mine_hard_negatives(
            pairs,
            models[0],
            include_positives=True,
            output_format="labeled-list",
            range_min=0,
            max_score=0.99,
            margin=0.5,
            as_triplets=True,
            verbose=False,
        )
    text = caplog.text
    for expected in ("as_triplets", "`margin` parameter is deprecated", "may still drop", '"n-tuple"'):
        assert expected in text
    assert result.column_names[:3] == ["anchor", "positive", "negative_1"]


ERROR_CASES = {
    "unknown-format": ({"output_format": "pairs"}, ValueError, "output_format must be one of"),
    "missing-anchor-column": ({"anchor_column_name": "question"}, ValueError, "'question' is not a column"),
    "missing-positive-column": ({"positive_column_name": "answer"}, ValueError, "'answer' is not a column"),
    "same-column": ({"anchor_column_name": "positive"}, ValueError, "both 'positive'"),
    "no-negatives": ({"num_negatives": 0}, ValueError, "num_negatives must be at least 1"),
    "range-too-small": ({"num_negatives": 5, "range_min": 2, "range_max": 6}, ValueError, "only 4 candidates remain"),
    "range-inverted": ({"range_min": 6, "range_max": 6}, ValueError, "range_min must be smaller than range_max"),
    "negative-range-min": ({"range_min": -1, "range_max": 6}, ValueError, "range_min must be non-negative"),
    "unknown-sampling": ({"sampling_strategy": "hardest"}, ValueError, "sampling_strategy must be one of"),
    "search-chunk": ({"faiss_batch_size": 0}, ValueError, "faiss_batch_size must be a positive integer"),
    "two-libraries": ({"use_faiss": True, "use_usearch": True}, ValueError, "choose one search library"),
}


@pytest.mark.parametrize(("kwargs", "error", "message"), list(ERROR_CASES.values()), ids=list(ERROR_CASES))
def test_errors(pairs: Any, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        mine_hard_negatives(pairs, None, verbose=False, **kwargs)  # type: ignore[arg-type]


def test_errors_on_dataset_shape() -> None:
    from datasets import Dataset

    with pytest.raises(ValueError, match="the dataset is empty"):
        mine_hard_negatives(Dataset.from_dict({"a": [], "b": []}), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"found only \['a'\]"):
        mine_hard_negatives(Dataset.from_dict({"a": ["x"]}), None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_multi_process_equals_single_process(tiny_bert_path: Path, cross_encoders: tuple[Any, Any], pairs: Any) -> None:
    """use_multi_process embeds and rescores in pools (one spawned CPU worker each), with the same result."""
    from embedforge import SentenceTransformer

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    subset = pairs.select(range(20))
    kwargs = {"cross_encoder": cross_encoders[0], "relative_margin": 0.0, "output_scores": True, "verbose": False}
    single = mine_hard_negatives(subset, model, **kwargs)
    pooled = mine_hard_negatives(subset, model, use_multi_process=["cpu"], **kwargs)
    assert len(single) > 0
    assert_same_dataset(pooled, single)
