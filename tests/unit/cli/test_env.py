"""``embedforge env``: versions and devices, readable or as one JSON object; torch is not imported at import."""

from __future__ import annotations

import ast
import json
import sys
from importlib import metadata
from pathlib import Path

import pytest

from embedforge.cli import main
from embedforge.cli.env import PACKAGES


def test_env_prints_versions_and_devices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for name in PACKAGES:
        assert name in out
    assert metadata.version("torch") in out
    assert "cuda available" in out
    assert "cpu threads" in out


def test_env_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["event"] == "env"
    assert report["packages"]["transformers"] == metadata.version("transformers")
    assert report["packages"]["embedforge"] == metadata.version("embedforge")
    assert isinstance(report["devices"]["cuda_available"], bool)
    assert report["python"].split()[1] == ".".join(map(str, sys.version_info[:3]))


def test_env_reports_missing_packages() -> None:
    from embedforge.cli.env import package_version

    assert package_version("no-such-distribution-embedforge") == "not installed"


def test_env_module_does_not_import_torch_at_import_time() -> None:
    import embedforge.cli.env as env_module

    tree = ast.parse(Path(env_module.__file__).read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {alias.name for node in top_level for alias in node.names}
    names |= {node.module for node in top_level if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.split(".")[0] in {"torch", "transformers", "sentence_transformers"} for name in names)


def test_env_rejects_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "--bogus"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err
