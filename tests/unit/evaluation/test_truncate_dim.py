"""truncate_dim across evaluators: the evaluator's own, else the model's (constructor argument or attribute).

Every evaluator that sentence-transformers 6.2 gives a ``truncate_dim`` is run on the same tiny model in both
libraries with the truncation set on the evaluator, on the model, or on both (the evaluator's wins); the metrics
must be sentence-transformers' own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from evaluation_helpers import assert_metrics_match

A = ["A man is playing a guitar.", "A dog runs on the beach.", "Two children play in the park.", "what is the capital?"]
B = ["A man plays music.", "A cat sits under the table.", "Children play outside.", "A red car on the street."]
C = ["A woman is eating food.", "The quick brown fox jumps.", "An old man sits outside.", "Three people play music."]


def _similarity(module: Any, model: Any, dim: int | None) -> Any:
    return module.EmbeddingSimilarityEvaluator(A, B, [0.9, 0.1, 0.7, 0.0], name="sts", truncate_dim=dim)


def _binary(module: Any, model: Any, dim: int | None) -> Any:
    return module.BinaryClassificationEvaluator(A + A, B + C, [1, 0, 1, 0, 0, 1, 0, 0], name="pairs", truncate_dim=dim)


def _triplet(module: Any, model: Any, dim: int | None) -> Any:
    return module.TripletEvaluator(A, B, C, name="triplets", truncate_dim=dim)


def _retrieval(module: Any, model: Any, dim: int | None) -> Any:
    queries = {f"q{i}": text for i, text in enumerate(A)}
    corpus = {f"d{i}": text for i, text in enumerate(B + C)}
    relevant = {f"q{i}": {f"d{i}"} for i in range(len(A))}
    return module.InformationRetrievalEvaluator(queries, corpus, relevant, name="ir", truncate_dim=dim)


def _reranking(module: Any, model: Any, dim: int | None) -> Any:
    samples = [{"query": q, "positive": [p], "negative": [n, *C[:2]]} for q, p, n in zip(A, B, C, strict=True)]
    return module.RerankingEvaluator(samples, name="rerank", truncate_dim=dim)


def _paraphrases(module: Any, model: Any, dim: int | None) -> Any:
    sentences = {f"s{i}": text for i, text in enumerate(A + B)}
    duplicates = [(f"s{i}", f"s{i + len(A)}") for i in range(len(A))]
    return module.ParaphraseMiningEvaluator(sentences, duplicates, name="mining", truncate_dim=dim)


def _translation(module: Any, model: Any, dim: int | None) -> Any:
    return module.TranslationEvaluator(A, B, name="translation", truncate_dim=dim)


def _mse(module: Any, model: Any, dim: int | None) -> Any:
    return module.MSEEvaluator(A, B, teacher_model=model, name="mse", truncate_dim=dim)


EVALUATORS: dict[str, Callable[[Any, Any, int | None], Any]] = {
    "EmbeddingSimilarityEvaluator": _similarity,
    "BinaryClassificationEvaluator": _binary,
    "TripletEvaluator": _triplet,
    "InformationRetrievalEvaluator": _retrieval,
    "RerankingEvaluator": _reranking,
    "ParaphraseMiningEvaluator": _paraphrases,
    "TranslationEvaluator": _translation,
    "MSEEvaluator": _mse,
}
SETTINGS = {
    "on-the-evaluator": (None, 8),
    "on-the-model": (8, None),
    "evaluator-over-model": (16, 8),
}


def _metrics(library: str, path: Path, evaluator: str, model_dim: int | None, evaluator_dim: int | None) -> Any:
    if library == "embedforge":
        from embedforge import SentenceTransformer, evaluation
    else:
        from sentence_transformers import SentenceTransformer  # type: ignore[no-redef]
        from sentence_transformers.sentence_transformer import evaluation  # type: ignore[no-redef]
    model = SentenceTransformer(str(path), device="cpu", truncate_dim=model_dim)
    return EVALUATORS[evaluator](evaluation, model, evaluator_dim)(model)


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("evaluator", list(EVALUATORS))
def test_metrics_match_sentence_transformers(tiny_bert_path: Path, evaluator: str, setting: str) -> None:
    model_dim, evaluator_dim = SETTINGS[setting]
    ours = _metrics("embedforge", tiny_bert_path, evaluator, model_dim, evaluator_dim)
    theirs = _metrics("sentence-transformers", tiny_bert_path, evaluator, model_dim, evaluator_dim)
    assert_metrics_match(ours, theirs, atol=1e-5)


def test_truncation_changes_the_metrics(tiny_bert_path: Path) -> None:
    """The cases above would pass vacuously if truncation did nothing: 8 of 32 dimensions must change scores."""
    full = _metrics("embedforge", tiny_bert_path, "EmbeddingSimilarityEvaluator", None, None)
    truncated = _metrics("embedforge", tiny_bert_path, "EmbeddingSimilarityEvaluator", None, 8)
    assert full["sts_pearson_cosine"] != pytest.approx(truncated["sts_pearson_cosine"], abs=1e-6)


def test_model_attribute_set_after_loading_is_used(tiny_bert_path: Path) -> None:
    from embedforge import SentenceTransformer
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.truncate_dim = 8
    evaluator = EmbeddingSimilarityEvaluator(A, B, [0.9, 0.1, 0.7, 0.0], name="sts")
    expected = _metrics("sentence-transformers", tiny_bert_path, "EmbeddingSimilarityEvaluator", 8, None)
    assert_metrics_match(evaluator(model), expected, atol=1e-5)


def test_encode_truncate_dim_and_context_manager_match_sentence_transformers(tiny_bert_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as STModel

    from embedforge import SentenceTransformer

    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs = STModel(str(tiny_bert_path), device="cpu")
    expected = theirs.encode(A, truncate_dim=8, normalize_embeddings=True)
    np.testing.assert_allclose(ours.encode(A, truncate_dim=8, normalize_embeddings=True), expected, atol=1e-6)
    with ours.truncate_sentence_embeddings(8):
        assert ours.get_sentence_embedding_dimension() == 8
        np.testing.assert_allclose(ours.encode(A, normalize_embeddings=True), expected, atol=1e-6)
    assert ours.truncate_dim is None
    assert ours.get_sentence_embedding_dimension() == 32
