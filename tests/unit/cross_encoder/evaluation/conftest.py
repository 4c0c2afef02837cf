"""Fixtures of the cross-encoder evaluator tests: both libraries' tiny cross-encoders, loaded once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ce_helpers import both_cross_encoders


@pytest.fixture(scope="session")
def st_ce_evaluation() -> Any:
    """``sentence_transformers.cross_encoder.evaluation`` (the reference)."""
    return pytest.importorskip("sentence_transformers.cross_encoder.evaluation")


@pytest.fixture(scope="session")
def ce_models(_tiny_ce_session: Path, st_ce_evaluation: Any) -> tuple[Any, Any]:
    """``(ours, theirs)``: the tiny one-label cross-encoder in both libraries (shared: do not change it)."""
    return both_cross_encoders(_tiny_ce_session)


@pytest.fixture(scope="session")
def ce3_models(_tiny_ce3_session: Path, st_ce_evaluation: Any) -> tuple[Any, Any]:
    """``(ours, theirs)``: the tiny three-label cross-encoder in both libraries (shared: do not change it)."""
    return both_cross_encoders(_tiny_ce3_session)
