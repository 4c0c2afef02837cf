"""DenoisingAutoEncoderDataset: the same deletion noise as sentence-transformers' (which needs nltk) for a seed.

The expected strings were produced by sentence-transformers 6.2's ``DenoisingAutoEncoderDataset.delete`` with
nltk 3.10 (``word_tokenize`` + ``TreebankWordDetokenizer``) after ``np.random.seed(seed)``: nltk is not a dependency
here, so the reference is recorded; ``test_matches_st_with_nltk`` compares live where nltk and its data exist
(plain text is split without nltk, punctuated text goes to nltk).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from embedforge.datasets import DenoisingAutoEncoderDataset

TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "I cannot say we can not go and we are gonna stay",  # nltk splits "cannot"/"gonna" and joins them back
    "a man is playing a guitar in the park near the water",
    "hello",
    "   ",
    "two  spaced\twords here",
]
ST_DELETE = {  # seed -> ST's delete(text) for each text, drawn in order
    0: ["quick brown over lazy dog", "can we and we are gonna", "a is a park", "hello", "   ", "two spaced words here"],
    1: ["quick", "not we not gonna", "a man is in near water", "hello", "   ", "two spaced here"],
    2: ["lazy", "cannot go we", "near", "hello", "   ", "two here"],
}
ST_DELETE_RATIO_03_SEED_5 = ["can say we cannot go gonna", "I not we cannot are stay", "I we can go we are gon stay"]
ST_ITEMS_SEED_7 = ["quick fox jumps", "cannot not we gonna", "man a guitar"]
NLTK_INSTALLED = importlib.util.find_spec("nltk") is not None


@pytest.mark.parametrize("seed", sorted(ST_DELETE))
def test_delete_matches_st(seed: int) -> None:
    np.random.seed(seed)
    assert [DenoisingAutoEncoderDataset.delete(text) for text in TEXTS] == ST_DELETE[seed]


def test_delete_ratio_matches_st() -> None:
    np.random.seed(5)
    noisy = [DenoisingAutoEncoderDataset.delete(TEXTS[1], del_ratio=0.3) for _ in range(3)]
    assert noisy == ST_DELETE_RATIO_03_SEED_5


def test_items_are_noisy_then_original_pairs() -> None:
    dataset = DenoisingAutoEncoderDataset(TEXTS[:3])
    np.random.seed(7)
    items = [dataset[i] for i in range(len(dataset))]
    assert len(dataset) == 3
    assert [item.texts for item in items] == [
        [noisy, text] for noisy, text in zip(ST_ITEMS_SEED_7, TEXTS, strict=False)
    ]
    assert all(item.label == 0 for item in items)


def test_custom_noise_fn_needs_no_nltk() -> None:
    dataset = DenoisingAutoEncoderDataset(["Hello, world!"], noise_fn=str.upper)
    assert dataset[0].texts == ["HELLO, WORLD!", "Hello, world!"]


@pytest.mark.skipif(NLTK_INSTALLED, reason="nltk is installed: punctuation is handled by nltk")
def test_punctuation_without_nltk_raises_clear_import_error() -> None:
    with pytest.raises(ImportError, match=r"needs nltk .*pip install nltk.*noise_fn"):
        DenoisingAutoEncoderDataset.delete("Hello, world.")
    with pytest.raises(ImportError, match="nltk"):
        DenoisingAutoEncoderDataset(["It's fine."])[0]


def test_matches_st_with_nltk(st_datasets) -> None:
    nltk = pytest.importorskip("nltk")
    try:
        nltk.word_tokenize("probe")
    except LookupError:
        pytest.skip("nltk's punkt_tab data is not installed")
    texts = [*TEXTS, "Hello, world! It's a \"quoted\" (test) -- isn't it?"]
    for seed in range(5):
        np.random.seed(seed)
        theirs = [st_datasets.DenoisingAutoEncoderDataset.delete(text) for text in texts]
        np.random.seed(seed)
        assert [DenoisingAutoEncoderDataset.delete(text) for text in texts] == theirs
