"""InputExample: same fields, defaults and string form as sentence-transformers' InputExample."""

from __future__ import annotations

import numpy as np

from embedforge.readers import InputExample


def test_defaults_and_fields_match_st(st_readers) -> None:
    ours, theirs = InputExample(), st_readers.InputExample()
    assert (ours.guid, ours.texts, ours.label) == (theirs.guid, theirs.texts, theirs.label) == ("", None, 0)
    ours = InputExample("id-1", ["a", "b"], 0.5)  # positional order guid, texts, label
    assert (ours.guid, ours.texts, ours.label) == ("id-1", ["a", "b"], 0.5)


def test_str_matches_st(st_readers) -> None:
    for kwargs in ({"texts": ["A man eats.", "Someone eats."], "label": 0.8}, {"texts": ["one"], "guid": "x"}):
        assert str(InputExample(**kwargs)) == str(st_readers.InputExample(**kwargs))
    assert str(InputExample()) == "<InputExample> label: 0, texts: "  # ST raises TypeError on texts=None


def test_identity_equality_and_hash_allow_array_labels() -> None:
    first = InputExample(texts=["a"], label=np.ones(3, dtype=np.float32))
    second = InputExample(texts=["a"], label=np.ones(3, dtype=np.float32))
    assert first == first
    assert first != second
    assert len({first, second}) == 2
    assert "InputExample(guid=''" in repr(first)
