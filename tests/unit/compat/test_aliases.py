"""Older module paths import as embedforge's modules (same objects), with a warning, without shadowing classes."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from embedforge.compat.aliases import COMPOSITE_ALIASES, MODULE_ALIASES, ModuleAlias
from embedforge.compat.composite_module import CompositeModule
from embedforge.compat.unavailable_paths import unavailable_reason

AVAILABLE = tuple(alias for alias in MODULE_ALIASES if unavailable_reason(alias.target) is None)


@pytest.mark.parametrize("alias", AVAILABLE, ids=lambda alias: alias.path)
def test_every_alias_imports_its_target(alias: ModuleAlias) -> None:
    module = importlib.import_module(alias.path)
    assert module is importlib.import_module(alias.target)


def test_a_path_of_a_missing_feature_fails_clearly_without_a_warning() -> None:
    code = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "try:\n"
        "    import embedforge.base.modality\n"
        "except ModuleNotFoundError as error:\n"
        "    raise SystemExit(f'bare ModuleNotFoundError: {error}')\n"
        "except ImportError as error:\n"
        "    assert 'multimodal input helpers' in str(error), error\n"
        "else:\n"
        "    raise SystemExit('imported')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("alias", COMPOSITE_ALIASES, ids=lambda alias: alias.path)
def test_composite_names_resolve_lazily_to_their_sources(alias: object) -> None:
    module = importlib.import_module(alias.path)
    assert isinstance(module, CompositeModule)
    assert module.__all__ == list(alias.names)
    assert ("__path__" in vars(module)) is alias.package
    for name, source in alias.names.items():
        module_name, _, attribute = source.partition(":")
        assert getattr(module, name) is getattr(importlib.import_module(module_name), attribute or name)


def test_composite_module_imports_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys\n"
        "import embedforge.base\n"
        "assert 'embedforge.training.base_trainer' not in sys.modules\n"
        "from embedforge.base import BaseTrainer\n"
        "assert 'embedforge.training.base_trainer' in sys.modules\n"
        "import embedforge.training.base_trainer as real\n"
        "assert BaseTrainer is real.BaseTrainer\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_submodules_of_an_alias_are_the_targets_submodules_not_copies() -> None:
    import embedforge.sentence_transformer.losses.cosent as alias
    import embedforge.sentence_transformer.modules.tokenizer.word as word

    import embedforge.losses.cosent as real

    assert alias is real
    assert word is importlib.import_module("embedforge.models.tokenizer.word")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("embedforge.sentence_transformer.losses.no_such_loss")


@pytest.mark.parametrize(
    "path", ["embedforge.sparse_encoder.losses", "embedforge.multi_vector_encoder", "embedforge.base.merging"]
)
def test_unimplemented_families_raise_a_clear_import_error(path: str) -> None:
    with pytest.raises(ImportError, match="not implemented") as caught:
        importlib.import_module(path)
    assert not isinstance(caught.value, ModuleNotFoundError)


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


def test_old_top_level_class_paths_keep_the_lazy_class_attribute() -> None:
    code = (
        "import warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from embedforge.SentenceTransformer import SentenceTransformer\n"
        "from embedforge.LoggingHandler import LoggingHandler\n"
        "import embedforge\n"
        "assert embedforge.SentenceTransformer is SentenceTransformer, embedforge.SentenceTransformer\n"
        "assert embedforge.LoggingHandler is LoggingHandler, embedforge.LoggingHandler\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
