"""The readers and NoDuplicatesDataLoader import no torch; the torch datasets load only when named."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = "import sys; {statement}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'torch', 'numpy'}}))"


def heavy_modules_after(statement: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement)], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


@pytest.mark.parametrize(
    "statement",
    [
        "import embedforge.readers",
        "from embedforge.readers import InputExample, STSBenchmarkDataReader",
        "from embedforge.datasets import NoDuplicatesDataLoader",
        "import embedforge.datasets; dir(embedforge.datasets)",
    ],
)
def test_light_imports(statement: str) -> None:
    assert heavy_modules_after(statement) == "[]"


def test_unknown_name_is_an_attribute_error() -> None:
    import embedforge.datasets

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = embedforge.datasets.Nope
