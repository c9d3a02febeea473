from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from slap_edge import __version__
from slap_edge.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def _all_commands() -> list[list[str]]:
    import typer.main

    group = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd, prefix: list[str]) -> None:  # type: ignore[no-untyped-def]
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(group, [])
    return paths


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p) or "root")
def test_help_on_every_command(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_doctor_bad_stage_names_accepted() -> None:
    result = runner.invoke(app, ["doctor", "--require", "gpu"])
    assert result.exit_code != 0
    assert "runtime" in result.output and "tensorrt" in result.output


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "slap_edge.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
