"""The ``embedforge`` entry point: every command has help with examples; unknown commands are usage errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from embedforge.cli import COMMANDS, main


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_exits_0_and_shows_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: embedforge {command}" in out
    assert "examples:" in out
    assert f"embedforge {command}" in out.split("examples:")[1]


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_python_dash_m_embedforge_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "embedforge", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: embedforge" in result.stdout
    assert "encode" in result.stdout
