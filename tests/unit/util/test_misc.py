"""embedforge.util.misc: compared with sentence-transformers 6.2 where it defines the result."""

from __future__ import annotations

import collections
import functools
import logging
from pathlib import Path

import pytest
import torch

from embedforge.util import misc
from embedforge.util.dense_similarity import cos_sim


@pytest.fixture(scope="module")
def st_misc():
    return pytest.importorskip("sentence_transformers.util.misc")


def test_fullname_matches_st(st_misc):
    for obj in (collections.OrderedDict, collections.OrderedDict(), 3, int, Path("x"), misc.fullname):
        assert misc.fullname(obj) == st_misc.fullname(obj)
    assert misc.fullname(collections.OrderedDict()) == "collections.OrderedDict"
    assert misc.fullname(3) == "int"


class _Metric:
    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b.T

    def get_config_dict(self) -> dict:
        return {"k": self.k}


class _Model:
    similarity_fn_name = "dot"

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b.T

    def similarity_pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(-1)


def test_similarity_fct_name_matches_st(st_misc):
    model = _Model()
    cases = [
        cos_sim,
        functools.partial(cos_sim),
        functools.partial(torch.nn.functional.cosine_similarity, dim=-1, eps=0.1),
        _Metric(3),
        model.similarity,
        model.similarity_pairwise,
        torch.nn.CosineSimilarity(),
    ]
    for similarity_fct in cases:
        assert misc.similarity_fct_name(similarity_fct) == st_misc.similarity_fct_name(similarity_fct)
    assert misc.similarity_fct_name(_Metric(3)) == "_Metric(k=3)"
    assert misc.similarity_fct_name(model.similarity_pairwise) == "pairwise_dot_score"


def test_check_teacher_targets(st_misc, caplog: pytest.LogCaptureFixture):
    logits = torch.tensor([[0.0, 500.0, 1.0]])
    probabilities = torch.softmax(logits / 1.0, dim=-1)
    with caplog.at_level(logging.WARNING, logger=misc.__name__):
        misc.check_teacher_targets(probabilities, logits, 1.0, "MyLoss")
    assert "MyLoss: teacher_temperature=1.0 underflows 2 of 3" in caplog.text
    assert "above 5" in caplog.text
    caplog.clear()
    fine = torch.tensor([[0.0, 1.0]])
    with caplog.at_level(logging.WARNING, logger=misc.__name__):
        misc.check_teacher_targets(torch.softmax(fine, -1), fine, 1.0, "MyLoss")
        excluded = torch.tensor([[0.0, float("-inf")]])
        misc.check_teacher_targets(torch.softmax(excluded, -1), excluded, 1.0, "MyLoss")
    assert caplog.text == ""
    nan = torch.tensor([[0.0, float("nan")]])
    for module in (misc, st_misc):
        with pytest.raises(ValueError, match="MyLoss: the teacher scores contain NaN"):
            module.check_teacher_targets(torch.softmax(nan, -1), nan, 1.0, "MyLoss")


def test_import_from_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert misc.import_from_string("collections.OrderedDict") is collections.OrderedDict
    # Old layouts name a module after its class (pkg/Thing.py defining Thing): the full path is a module.
    (tmp_path / "old_layout_pkg").mkdir()
    (tmp_path / "old_layout_pkg" / "__init__.py").write_text("")
    (tmp_path / "old_layout_pkg" / "Thing.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert misc.import_from_string("old_layout_pkg.Thing").__qualname__ == "Thing"
    with pytest.raises(ImportError, match="doesn't look like a module path"):
        misc.import_from_string("nodots")
    with pytest.raises(ImportError, match='does not define a "Nope"'):
        misc.import_from_string("collections.Nope")
    with pytest.raises(ImportError):
        misc.import_from_string("no_such_module_xyz.Thing")


def test_import_module_class_resolves_st_names_to_embedforge():
    from embedforge.models import Pooling

    assert misc.import_module_class("sentence_transformers.models.Pooling") is Pooling
    assert misc.import_module_class("embedforge.models.Pooling") is Pooling
    with pytest.raises(ImportError, match="not a module class embedforge implements"):
        misc.import_module_class("sentence_transformers.models.NoSuchModule")


def test_import_module_class_requires_trust_for_third_party(tmp_path: Path):
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        misc.import_module_class("collections.OrderedDict", str(tmp_path))
    assert misc.import_module_class("collections.OrderedDict") is collections.OrderedDict
    # Trusted, not a modeling file of the folder: falls back to an installed package.
    trusted = misc.import_module_class("collections.OrderedDict", str(tmp_path), trust_remote_code=True)
    assert trusted is collections.OrderedDict


def test_import_module_class_loads_repository_code(tmp_path: Path):
    (tmp_path / "modeling_custom.py").write_text("class CustomModule:\n    answer = 42\n")
    (tmp_path / "config.json").write_text("{}")
    cls = misc.import_module_class(
        "modeling_custom.CustomModule", str(tmp_path), trust_remote_code=True, local_files_only=True
    )
    assert cls.__name__ == "CustomModule"
    assert cls.answer == 42


def test_disable_logging_restores_level(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("embedforge.test.disable")
    with caplog.at_level(logging.INFO, logger=logger.name):
        with misc.disable_logging(logging.INFO):
            logger.info("hidden")
            logger.warning("shown")
        logger.info("after")
    assert [record.getMessage() for record in caplog.records] == ["shown", "after"]
    assert logging.root.manager.disable == logging.NOTSET


def test_disable_datasets_caching():
    datasets = pytest.importorskip("datasets")
    assert datasets.is_caching_enabled()
    with misc.disable_datasets_caching():
        assert not datasets.is_caching_enabled()
    assert datasets.is_caching_enabled()


def test_append_to_last_row_matches_st(st_misc, tmp_path: Path):
    for module in (misc, st_misc):
        path = tmp_path / f"{module.__name__}.csv"
        path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
        assert module.append_to_last_row(path, [5, "x"]) is True
    assert (tmp_path / "embedforge.util.misc.csv").read_text() == (
        tmp_path / "sentence_transformers.util.misc.csv"
    ).read_text()
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n", encoding="utf-8")
    assert misc.append_to_last_row(header_only, [1]) is False
    assert header_only.read_text() == "a,b\n"


def test_original_transformer_models_match_st(st_misc):
    assert misc.ORIGINAL_TRANSFORMER_MODELS == st_misc.ORIGINAL_TRANSFORMER_MODELS
    assert "bert-base-uncased" in misc.ORIGINAL_TRANSFORMER_MODELS
