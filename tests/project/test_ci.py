""".ci/run: it fails when the local Slurm cluster does not start (unless explicitly opted out,
and then it says so), and its output ends with the number of Slurm tests that passed."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
CI = REPO / ".ci" / "run"
OPT_OUT = "OMNIBENCH_CI_WITHOUT_SLURM"
LAST_LINE = re.compile(r"CI: Slurm tests passed: (\d+)")


def load_counter() -> ModuleType:
    """.ci/count_slurm_tests.py as a module."""
    spec = importlib.util.spec_from_file_location(
        "count_slurm_tests", REPO / ".ci" / "count_slurm_tests.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SLURM_TESTS = "tests/end_to_end/test_slurm_arrays.py"  # Slurm tests that make test runs (not slow)


def run_ci(pytest_args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """.ci/run on PYTEST_ARGS, without the caller's opt-out or SLURM_CONF; output and errors
    together."""
    full_env = {
        key: value for key, value in os.environ.items() if key not in (OPT_OUT, "SLURM_CONF")
    }
    full_env.update(PYTEST_ARGS=pytest_args, **env)
    return subprocess.run(
        [str(CI)],
        cwd=REPO,
        env=full_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=600,
        check=False,
    )


def slurm_passed(output: str) -> int:
    """The count on CI's last line, which must be that line."""
    match = LAST_LINE.fullmatch(output.rstrip().splitlines()[-1])
    assert match, f"CI's output does not end with the Slurm count:\n{output}"
    return int(match.group(1))


@pytest.fixture
def unstartable_state(tmp_path: Path) -> str:
    """A state directory that cannot be created: the cluster fails to start on any machine."""
    (tmp_path / "a-file").write_text("")
    return str(tmp_path / "a-file" / "state")


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="t" name="a"><properties><property name="markers" \
value="slow slurm"/></properties></testcase>
<testcase classname="t" name="b"><properties><property name="markers" \
value="slurm"/></properties></testcase>
<testcase classname="t" name="c"><properties><property name="markers" \
value="slurm"/></properties><skipped message="no cluster"/></testcase>
<testcase classname="t" name="d"><properties><property name="markers" \
value="slurm"/></properties><failure message="x"/></testcase>
<testcase classname="t" name="e"><properties><property name="markers" \
value="slurm"/></properties><error message="teardown"/></testcase>
<testcase classname="t" name="f"><properties><property name="markers" \
value="slow"/></properties></testcase>
<testcase classname="t" name="g"><properties><property name="markers" \
value="slurmish"/></properties></testcase>
<testcase classname="t" name="h"/>
</testsuite></testsuites>"""


def test_counts_only_slurm_tests_that_ran_and_passed(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    counter = load_counter()
    assert counter.count(junit) == {"passed": 2, "skipped": 1, "failed": 2}
    assert counter.count(tmp_path / "missing.xml") == {}
    twice = counter.count_all([junit, tmp_path / "missing.xml", junit])  # make test, then -slow
    assert twice == {"passed": 4, "skipped": 2, "failed": 4}


def test_ci_fails_when_the_local_cluster_does_not_start(unstartable_state: str) -> None:
    result = run_ci(SLURM_TESTS, OMNIBENCH_SLURM_STATE=unstartable_state)

    assert result.returncode == 1, result.stdout
    assert "the local Slurm cluster did not start" in result.stdout and OPT_OUT in result.stdout
    assert "--junitxml" not in result.stdout  # it stops there: make test never runs
    assert slurm_passed(result.stdout) == 0


def test_ci_without_slurm_goes_on_and_says_so_loudly(unstartable_state: str) -> None:
    result = run_ci(SLURM_TESTS, OMNIBENCH_SLURM_STATE=unstartable_state, **{OPT_OUT: "1"})

    assert result.returncode == 0, result.stdout
    skipped = re.search(r"CI: Slurm tests: 0 passed, (\d+) skipped, 0 failed", result.stdout)
    assert skipped and int(skipped.group(1)) > 0, result.stdout  # the markers reached the JUnit XML
    assert "SLURM WAS NOT TESTED: the local cluster did not start" in result.stdout
    assert slurm_passed(result.stdout) == 0


def _cluster_up() -> bool:
    script = REPO / "slurm" / "local-cluster.sh"
    return subprocess.run([str(script), "status"], capture_output=True, check=False).returncode == 0


@pytest.mark.slurm
def test_ci_fails_when_no_slurm_test_ran() -> None:
    if not _cluster_up():
        pytest.skip("the local cluster is not running (slurm/local-cluster.sh start)")
    # one test passes, no Slurm test runs
    result = run_ci("tests/project/test_ci.py -k counts_only_slurm")

    assert result.returncode == 1, result.stdout
    assert "using the local Slurm cluster that is already running" in result.stdout
    assert "1 passed" in result.stdout
    assert "CI: FAILED: 0 Slurm tests skipped and 0 passed" in result.stdout
    assert slurm_passed(result.stdout) == 0
    assert _cluster_up()  # a cluster CI did not start is left running
