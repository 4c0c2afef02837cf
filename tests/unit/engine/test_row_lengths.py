"""RowLengths: host-side real-token counts of right-padded columns, left alone by device moves, made by the collator
where a column has no packed layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.data.collator import SentenceTransformerDataCollator
from embedforge.engine.row_lengths import ROW_LENGTHS_KEY, RowLengths, add_row_lengths, right_padded_lengths
from embedforge.engine.varlen import VARLEN_KEY, VarlenLayout

ROWS = [
    {"anchor": "a man is playing a large guitar on the stage", "positive": "a woman"},
    {"anchor": "the dog runs", "positive": "a cat sleeps on a warm mat in the sun"},
    {"anchor": "hi", "positive": "a child"},
]


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ([[1, 1, 0], [1, 1, 1], [1, 0, 0]], [2, 3, 1]),
        ([[1, 1]], [2]),
        ([[0, 1, 1], [1, 1, 1]], None),  # left padding
        ([[1, 0, 1]], None),  # a hole
        ([[1, 1], [0, 0]], None),  # an empty text
    ],
)
def test_right_padded_lengths(mask: list[list[int]], expected: list[int] | None) -> None:
    tensor = torch.tensor(mask)
    assert right_padded_lengths(tensor) == expected
    layout = VarlenLayout.from_attention_mask(tensor)  # the layouts read the same rule
    assert (layout is None) == (expected is None) and (layout is None or list(layout.lengths) == expected)


def test_no_lengths_without_rows_or_off_the_cpu() -> None:
    assert right_padded_lengths(torch.ones(0, 4)) is None
    assert right_padded_lengths(torch.ones(2, 4, device="meta")) is None
    assert right_padded_lengths(torch.ones(4)) is None


def test_device_moves_leave_the_lengths_alone_and_slices_cut_them() -> None:
    lengths = RowLengths((3, 1, 4))
    assert lengths.to("meta", non_blocking=True) is lengths and lengths.pin_memory() is lengths
    assert lengths.slice(1, 3) == RowLengths((1, 4))
    features = add_row_lengths({"attention_mask": torch.tensor([[1, 1, 1], [1, 0, 0]])})
    assert features[ROW_LENGTHS_KEY] == RowLengths((3, 1))
    assert ROW_LENGTHS_KEY not in add_row_lengths({"attention_mask": torch.tensor([[0, 1]])})
    assert ROW_LENGTHS_KEY not in add_row_lengths({"input_ids": torch.tensor([[5, 6]])})


@pytest.mark.parametrize(("varlen_layout", "row_lengths"), [(False, False), (False, True), (True, True)])
def test_collator_adds_row_lengths_where_a_column_has_no_layout(
    tiny_bert_path: Path, varlen_layout: bool, row_lengths: bool
) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    collator = SentenceTransformerDataCollator(model.tokenize, varlen_layout=varlen_layout, row_lengths=row_lengths)
    for features in collator(ROWS)["sentence_features"]:
        assert (VARLEN_KEY in features) == varlen_layout
        assert (ROW_LENGTHS_KEY in features) == (row_lengths and not varlen_layout)
        if ROW_LENGTHS_KEY in features:
            assert list(features[ROW_LENGTHS_KEY].lengths) == features["attention_mask"].sum(1).tolist()
