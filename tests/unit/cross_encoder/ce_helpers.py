"""Shared by the cross-encoder tests: both libraries' models on one checkpoint, and a few text pairs."""

from __future__ import annotations

from pathlib import Path


def both_cross_encoders(path: Path, **kwargs: object) -> tuple[object, object]:
    """``(ours, theirs)``: embedforge's and sentence-transformers' CrossEncoder on the same checkpoint, on CPU."""
    from sentence_transformers import CrossEncoder as STCrossEncoder

    from embedforge.cross_encoder import CrossEncoder

    return CrossEncoder(str(path), device="cpu", **kwargs), STCrossEncoder(str(path), device="cpu", **kwargs)


PAIRS = [
    ("what is the capital?", "the capital is a big old house near the water."),
    ("a man plays guitar", "a man is playing music outside."),
    ("a dog runs on the beach", "two children eat food in the park."),
    ("who sits near the table?", "an old woman sits near a red table."),
    ("where is the car?", "the car is in the street."),
]
