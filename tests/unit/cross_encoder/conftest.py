"""Tiny cross-encoders built in code: the same weights loaded by embedforge and by sentence-transformers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model_builders import build_tiny_classifier


@pytest.fixture(scope="session")
def _tiny_ce_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-ce"))


@pytest.fixture(scope="session")
def _tiny_ce3_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-ce3"), num_labels=3)


@pytest.fixture
def tiny_ce_path(_tiny_ce_session: Path, tmp_path: Path) -> Path:
    """A fresh copy (per test) of a tiny one-label classifier checkpoint."""
    target = tmp_path / "tiny-ce"
    shutil.copytree(_tiny_ce_session, target)
    return target


@pytest.fixture
def tiny_ce3_path(_tiny_ce3_session: Path, tmp_path: Path) -> Path:
    """A fresh copy (per test) of a tiny three-label classifier checkpoint."""
    target = tmp_path / "tiny-ce3"
    shutil.copytree(_tiny_ce3_session, target)
    return target
