"""Fixtures for the legacy readers: sentence-transformers' readers and a way to compare example lists."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

Examples = list[Any]


def _as_tuples(examples: Examples) -> list[tuple[Any, Any, Any]]:
    return [(example.guid, example.texts, example.label) for example in examples]


@pytest.fixture(scope="session")
def st_readers() -> ModuleType:
    """``sentence_transformers.sentence_transformer.readers`` (skips when it is not installed)."""
    return pytest.importorskip("sentence_transformers.sentence_transformer.readers")


@pytest.fixture(scope="session")
def assert_same_examples() -> Callable[[Examples, Examples], None]:
    """Assert two lists of InputExamples have the same guids, texts and labels, in order."""

    def check(ours: Examples, theirs: Examples) -> None:
        assert len(ours) == len(theirs)
        assert _as_tuples(ours) == _as_tuples(theirs)

    return check
