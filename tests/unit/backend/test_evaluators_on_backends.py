"""Evaluators give the same metrics whichever backend runs the model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from embedforge import CrossEncoder, SentenceTransformer
from embedforge.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator
from embedforge.evaluation import EmbeddingSimilarityEvaluator, TripletEvaluator

FIRST = ["a man plays guitar", "the cat sleeps", "rain falls today", "kids play football", "stocks went down"]
SECOND = ["someone plays music", "a dog barks", "it is raining", "children play a game", "markets fell"]
SCORES = [0.9, 0.2, 0.8, 0.7, 0.75]


def test_bi_encoder_evaluators_match_torch(bi_encoder_path: Path, backend: str = "onnx") -> None:
    evaluators = [
        EmbeddingSimilarityEvaluator(FIRST, SECOND, SCORES, name="sts", truncate_dim=16),
        TripletEvaluator(FIRST, SECOND, SECOND[::-1], name="triplets"),
    ]
    reference = SentenceTransformer(str(bi_encoder_path), device="cpu")
    exported = SentenceTransformer(str(bi_encoder_path), device="cpu", backend=backend)
    for evaluator in evaluators:
        ours, theirs = evaluator(exported), evaluator(reference)
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value, abs=1e-5), key


def test_cross_encoder_evaluator_matches_torch(cross_encoder_path: Path) -> None:
    evaluator = CrossEncoderCorrelationEvaluator(list(zip(FIRST, SECOND, strict=True)), SCORES, name="sts")
    reference = evaluator(CrossEncoder(str(cross_encoder_path), device="cpu"))
    ours = evaluator(CrossEncoder(str(cross_encoder_path), device="cpu", backend="onnx"))
    # a random tiny head scores all pairs within ~1e-3 of each other, so correlations amplify float noise
    assert ours == pytest.approx(reference, abs=1e-3)
