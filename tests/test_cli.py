"""The console script: --help everywhere, one-line errors, no placeholder commands."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main

from omnibench.cli import app, main
from omnibench.errors import OmniBenchError


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, prefix + [name])

    walk(root, [])
    return paths


def test_console_script_help_runs_in_a_fresh_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "omnibench", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage" in out.stdout and "data" in out.stdout


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "<root>")
def test_every_command_has_working_help(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(path + ["--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_user_errors_are_one_red_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("raise-for-test", hidden=True)
    def _raise() -> None:
        raise OmniBenchError("bad thing at suites/x.yaml:3")

    try:
        assert main(["raise-for-test"]) == 2
    finally:
        app.registered_commands.pop()
    err = capsys.readouterr().err
    assert "bad thing at suites/x.yaml:3" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_command_is_a_usage_error() -> None:
    assert main(["no-such-command"]) == 2


@pytest.mark.parametrize(
    "args", [["--help"], ["ls", "suites"], ["ls", "models"], ["run", "--help"]]
)
def test_commands_that_only_read_declarations_import_no_torch(args: list[str]) -> None:
    """The CLI, suites and model declarations load without torch (it costs seconds at every
    start)."""
    code = (
        "import sys\nfrom omnibench.cli import main\ntry:\n    "
        "main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
