"""Older module paths import as embedforge's modules (same objects), with a warning, without shadowing classes."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from embedforge.compat.aliases import MODULE_ALIASES


@pytest.mark.parametrize("alias", MODULE_ALIASES, ids=lambda alias: alias.path)
def test_every_alias_imports_its_target(alias: object) -> None:
    module = importlib.import_module(alias.path)
    assert module is importlib.import_module(alias.target)


def test_deprecated_alias_warns_and_keeps_the_parent_class() -> None:
    code = (
        "import warnings, importlib\n"
        "warnings.simplefilter('always')\n"
        "from embedforge.cross_encoder import CrossEncoder\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    from embedforge.cross_encoder.CrossEncoder import CrossEncoder as Old\n"
        "assert Old is CrossEncoder\n"
        "import embedforge.cross_encoder as package\n"
        "assert package.CrossEncoder is CrossEncoder, package.CrossEncoder\n"
        "assert any('deprecated' in str(w.message) and 'embedforge.cross_encoder.model' in str(w.message)"
        " for w in caught), [str(w.message) for w in caught]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sentence_transformers_lists_the_same_cross_encoder_paths() -> None:
    from sentence_transformers.util.deprecated_import import DEPRECATED_MODULE_PATHS

    theirs = {
        path.replace("sentence_transformers.", "embedforge.", 1)
        for path in DEPRECATED_MODULE_PATHS
        if path.startswith("sentence_transformers.cross_encoder.")
    }
    ours = {alias.path for alias in MODULE_ALIASES}
    assert theirs <= ours, sorted(theirs - ours)
