"""Tiny bi-encoder and cross-encoder folders for the backend tests (built once per session, copied per test)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model_builders import build_tiny_bert, build_tiny_classifier


@pytest.fixture(scope="session")
def _bi_encoder_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from embedforge import SentenceTransformer

    backbone = build_tiny_bert(tmp_path_factory.mktemp("backbone"))
    folder = tmp_path_factory.mktemp("bi-encoder")
    SentenceTransformer(str(backbone), device="cpu").save(str(folder))
    return folder


@pytest.fixture
def bi_encoder_path(_bi_encoder_session: Path, tmp_path: Path) -> Path:
    """A fresh copy of a tiny SentenceTransformer folder (BERT + mean pooling), without exported files."""
    target = tmp_path / "bi-encoder"
    shutil.copytree(_bi_encoder_session, target)
    return target


@pytest.fixture
def cross_encoder_path(tmp_path: Path) -> Path:
    """A tiny CrossEncoder folder (BERT with a one-logit head)."""
    from embedforge import CrossEncoder

    folder = tmp_path / "cross-encoder"
    CrossEncoder(str(build_tiny_classifier(tmp_path / "classifier")), device="cpu").save(str(folder))
    return folder
