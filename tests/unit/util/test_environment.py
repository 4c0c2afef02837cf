"""embedforge.util.environment: compared with sentence-transformers 6.2 where it defines the result."""

from __future__ import annotations

import logging
import platform

import pytest
import torch

from embedforge.util import environment


@pytest.fixture(scope="module")
def st_env():
    return pytest.importorskip("sentence_transformers.util.environment")


def test_availability_checks_match_st(st_env):
    for name in ("is_accelerate_available", "is_datasets_available", "is_training_available", "is_dist_initialized"):
        assert getattr(environment, name)() == getattr(st_env, name)(), name
    for package, owner in [("datasets", "huggingface"), ("datasets", "nobody"), ("no-such-package-xyz", "x")]:
        assert environment.check_package_availability(package, owner) == st_env.check_package_availability(
            package, owner
        )
    assert environment.check_package_availability("no-such-package-xyz", "x") is False


def test_get_device_name_matches_st(st_env, monkeypatch: pytest.MonkeyPatch):
    assert environment.get_device_name() == st_env.get_device_name()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert environment.get_device_name() == st_env.get_device_name() == "cuda:3"
    monkeypatch.delenv("LOCAL_RANK")
    assert environment.get_device_name() == "cuda:0"


def test_get_installed_version():
    assert environment.get_installed_version("python") == platform.python_version()
    assert environment.get_installed_version("torch") == torch.__version__
    assert environment.get_installed_version("no-such-package-xyz") is None


@pytest.mark.parametrize(
    "requirements",
    [
        None,
        {},
        {"torch": ">=1.0"},
        {"pytorch": ">=1.0", "python": ">=3.8"},
        {"torch": {"specifier": ">=1.0", "reason": "needed"}},
    ],
)
def test_check_version_requirements_met(requirements):
    assert environment.check_version_requirements(requirements, source="my/model") is None


def test_check_version_requirements_unmet_matches_st(st_env):
    requirements = {
        "torch": "<1.0",
        "python": "<3.0",
        "no-such-package-xyz": {"specifier": ">=1", "reason": "For the custom head."},
    }
    with pytest.raises(ImportError) as ours:
        environment.check_version_requirements(requirements, source="my/model")
    with pytest.raises(ImportError) as theirs:
        st_env.check_version_requirements(requirements, source="my/model")
    assert str(ours.value) == str(theirs.value)
    assert 'pip install -U "torch<1.0" "no-such-package-xyz>=1"' in str(ours.value)
    assert "For the custom head." in str(ours.value)


def test_check_version_requirements_skips_uninterpretable(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger=environment.__name__):
        environment.check_version_requirements({"torch": "not a specifier", "numpy": 3}, source="m")
        environment.check_version_requirements(["torch>=1"], source="m")  # type: ignore[arg-type]
    assert len(caplog.records) == 3


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("No module named 'PIL'", "sentence-transformers[image]"),
        ("module 'torchvision' has no attribute 'read_video'", "sentence-transformers[video]"),
        ("No module named 'soundfile'", "sentence-transformers[audio]"),
    ],
)
def test_suggest_extra_on_exception_adds_hint(st_env, message: str, hint: str):
    with pytest.raises(ImportError) as ours, environment.suggest_extra_on_exception():
        raise ImportError(message)
    with pytest.raises(ImportError) as theirs, st_env.suggest_extra_on_exception():
        raise ImportError(message)
    assert str(ours.value) == str(theirs.value)
    assert hint in str(ours.value)


def test_suggest_extra_on_exception_leaves_other_errors():
    original = AttributeError("something else")
    with pytest.raises(AttributeError) as caught, environment.suggest_extra_on_exception():
        raise original
    assert caught.value is original
