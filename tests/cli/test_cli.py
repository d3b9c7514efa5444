"""The console script: --help everywhere, one-line errors, no placeholder commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    ("args", "exit_code"),
    [
        (["--help"], 0),
        (["ls", "suites"], 0),
        (["ls", "models"], 0),
        (["run", "--help"], 0),
        (["run", "demo", "--dry-run", "--results", "{tmp}"], 0),  # 11 new runs checked
        (["validate", "demo"], 0),
        (["validate"], 2),  # the papers' suites: their CLIP weights are not in the empty cache
    ],
)
def test_commands_that_only_read_declarations_import_no_torch(
    args: list[str], exit_code: int, tmp_path: Path
) -> None:
    """The CLI, suites, model declarations and every plan-time check (backbone, tag, cache) run
    without torch (it costs seconds at every start), and a suite's table check without pandas."""
    code = (
        "import sys\nfrom omnibench.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
        "except SystemExit as stop:\n    code = stop.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code, *(arg.format(tmp=tmp_path) for arg in args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == exit_code, result.stderr
    assert "torch was imported" not in result.stderr
    assert "pandas was imported" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["ls", "suites"], ["status", "--help"]])
def test_the_cli_starts_without_pandas(args: list[str]) -> None:
    """Tables and statistics load where a report is built, not at every start."""
    code = (
        "import sys\nfrom omnibench.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted({'pandas', 'torch', 'matplotlib'} & set(sys.modules))\n"
        "assert not heavy, f'imported {heavy}'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
