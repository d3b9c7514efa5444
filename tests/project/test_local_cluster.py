"""slurm/local-cluster.sh: stop waits for each daemon before what it depends on, escalates to
SIGKILL, and never signals a process of another state directory; start recovers from stray daemons.

The first tests run the script against stand-in daemons (Python processes that take a daemon's
executable name and name a state directory the way the real ones do), so they need no Slurm. The
tests marked ``slurm`` start a second, real cluster in a temporary state directory on free ports.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "slurm" / "local-cluster.sh"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
# A stand-in daemon: takes the executable name argv[1] (/proc/PID/comm), logs "TIME NAME PID EVENT"
# lines, and on SIGTERM exits at once ("exit"), after 1.5 s ("slow"), or never ("ignore").
FAKE_DAEMON = """
import ctypes, os, signal, sys, time
name, on_term, log, pidfile = sys.argv[1:5]
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
def note(event):
    with open(log, "a") as f:
        f.write(f"{time.monotonic():.3f} {name} {os.getpid()} {event}\\n")
exit_at = []
def on_sigterm(*_):
    note("TERM")
    if on_term != "ignore" and not exit_at:
        exit_at.append(time.monotonic() + (1.5 if on_term == "slow" else 0))
signal.signal(signal.SIGTERM, on_sigterm)
note("READY")
while not exit_at or time.monotonic() < exit_at[0]:
    time.sleep(0.02)
note(f"EXIT pidfile={os.path.exists(pidfile)}")
"""

linux_only = pytest.mark.skipif(
    sys.platform != "linux", reason="local-cluster.sh reads /proc (Linux)"
)


def cluster(
    state: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run local-cluster.sh on the state directory ``state``."""
    full_env = dict(os.environ, OMNIBENCH_SLURM_STATE=str(state), **(env or {}))
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=full_env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


class FakeDaemons:
    """Stand-in daemons for one test; whatever is left is killed at the end."""

    def __init__(self, state: Path, log: Path) -> None:
        self.state, self.log, self.processes = state, log, []

    def start(
        self,
        name: str,
        *args: str,
        on_term: str = "exit",
        conf: Path | None = None,
        pidfile: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """A process called ``name`` with ``args``; SLURM_CONF=``conf`` in its environment."""
        pid_path = self.state / "run" / f"{pidfile or name}.pid"
        env = dict(os.environ, SLURM_CONF=str(conf or "/nonexistent/slurm.conf"))
        process = subprocess.Popen(
            [sys.executable, "-c", FAKE_DAEMON, name, on_term, str(self.log), str(pid_path), *args],
            env=env,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while f"{name} {process.pid} READY" not in self.events_text() or self.comm(process) != name:
            assert time.monotonic() < deadline and process.poll() is None, (
                f"stand-in {name} did not start"
            )
            time.sleep(0.02)
        if pidfile:
            pid_path.parent.mkdir(parents=True, exist_ok=True)
            pid_path.write_text(f"{process.pid}\n")
        return process

    @staticmethod
    def comm(process: subprocess.Popen[bytes]) -> str:
        return Path(f"/proc/{process.pid}/comm").read_text().strip()

    def events_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def events(self) -> dict[tuple[str, str], float]:
        """(name, event) -> time of its first occurrence; the pid-file flag is part of EXIT."""
        found: dict[tuple[str, str], float] = {}
        for line in self.events_text().splitlines():
            stamp, name, _, event = line.split(" ", 3)
            found.setdefault((name, event), float(stamp))
        return found

    def signalled(self) -> set[int]:
        """PIDs of the stand-ins that received SIGTERM."""
        return {
            int(line.split()[2])
            for line in self.events_text().splitlines()
            if line.endswith(" TERM")
        }

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[FakeDaemons]:
    daemons = FakeDaemons(tmp_path / "state", tmp_path / "events.log")
    yield daemons
    daemons.kill_all()


@linux_only
def test_stop_waits_for_each_daemon_before_stopping_what_it_depends_on(fakes: FakeDaemons) -> None:
    conf = fakes.state / "etc" / "slurm.conf"  # slurmdbd names its state only through SLURM_CONF
    dbd = fakes.start("slurmdbd", on_term="slow", conf=conf, pidfile="slurmdbd")
    db = fakes.start("mariadbd", f"--pid-file={fakes.state}/run/mariadb.pid", pidfile="mariadb")

    stopped = cluster(fakes.state, "stop")

    assert stopped.returncode == 0, stopped.stderr
    assert dbd.wait(5) == 0 and db.wait(5) == 0
    events = fakes.events()
    dbd_exit = events[("slurmdbd", "EXIT pidfile=True")]  # its pid file outlived it
    assert events[("slurmdbd", "TERM")] + 1.4 < dbd_exit
    assert events[("mariadbd", "TERM")] > dbd_exit  # MariaDB only once slurmdbd had exited
    assert f"stopped slurmdbd (pid {dbd.pid})" in stopped.stdout
    assert not list((fakes.state / "run").glob("*.pid"))


@linux_only
def test_stop_kills_a_daemon_that_ignores_sigterm(fakes: FakeDaemons) -> None:
    munged = fakes.start(
        "munged", f"--pid-file={fakes.state}/run/munged.pid", on_term="ignore", pidfile="munged"
    )

    began = time.monotonic()
    stopped = cluster(fakes.state, "stop", env={"OMNIBENCH_SLURM_STOP_WAIT": "1"}, timeout=60)

    assert stopped.returncode == 0, stopped.stderr
    assert time.monotonic() - began >= 1.0  # SIGKILL no sooner than the stated wait after SIGTERM
    assert munged.wait(5) == -signal.SIGKILL
    assert fakes.events()[("munged", "TERM")]
    assert "did not exit within 1s of SIGTERM; sending SIGKILL" in stopped.stdout
    assert not (fakes.state / "run" / "munged.pid").exists()


@linux_only
def test_stop_finds_its_daemons_without_pid_files_and_leaves_others_alone(
    fakes: FakeDaemons,
) -> None:
    state, other = fakes.state, Path(f"{fakes.state}-other")
    own = [
        fakes.start("munged", f"--pid-file={state}/run/munged.pid"),  # no pid file
        fakes.start("slurmdbd", conf=state / "etc" / "slurm.conf"),
        fakes.start("slurmctld", "-f", str(state / "etc" / "slurm.conf")),
    ]
    foreign = [
        fakes.start("slurmctld", "-f", str(other / "etc" / "slurm.conf"), pidfile="slurmctld"),
        fakes.start("slurmdbd", conf=other / "etc" / "slurm.conf"),
        fakes.start("tail", f"--pid-file={state}/run/munged.pid"),
    ]  # not munged itself
    status = cluster(state, "status")  # slurmctld.pid names another cluster's slurmctld
    assert status.returncode == 1 and "slurmctld  stopped" in status.stdout

    stopped = cluster(state, "stop")

    assert stopped.returncode == 0, stopped.stderr
    assert [process.wait(5) for process in own] == [0, 0, 0]
    assert all(process.poll() is None for process in foreign)
    assert f"stopped slurmdbd (pid {own[1].pid})" in stopped.stdout
    assert str(foreign[0].pid) not in stopped.stdout
    assert fakes.signalled() == {process.pid for process in own}


# --- a real cluster -------------------------------------------------------------------------

PORT_VARIABLES = (
    "OMNIBENCH_SLURMCTLD_PORT",
    "OMNIBENCH_SLURMD_PORT",
    "OMNIBENCH_SLURMDBD_PORT",
    "OMNIBENCH_MARIADB_PORT",
)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def is_alive(pid: int | str) -> bool:
    """Whether the process runs (a zombie has exited: it only waits for its parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def leftovers(state: Path) -> list[str]:
    """ "PID COMM" of the live processes that name ``state`` on their command line or in their
    environment."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or not is_alive(proc.name):
                continue
            if (
                str(state).encode()
                in (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
            ):
                found.append(f"{proc.name} {(proc / 'comm').read_text().strip()}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def real_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A second local cluster's state directory and ports, purged at the end."""
    if sys.platform != "linux" or not all(
        map(shutil.which, ("slurmctld", "slurmdbd", "munged", "mariadbd"))
    ):
        pytest.skip(
            "the Slurm daemons are not installed (slurm/local-cluster.sh start installs them)"
        )
    state = tmp_path_factory.mktemp("cluster") / "state"
    ports = dict(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES)))))
    yield state, ports
    cluster(state, "purge", env=ports)
    assert leftovers(state) == []


def daemon_pid(state: Path, daemon: str) -> int:
    return int((state / "run" / f"{daemon}.pid").read_text())


@pytest.mark.slurm
def test_stop_within_a_second_of_start_up_then_start_again(
    real_state: tuple[Path, dict[str, str]],
) -> None:
    state, ports = real_state
    for cycle in range(3):
        started = cluster(state, "start", env=ports)
        assert started.returncode == 0 and "ready in" in started.stdout, (
            cycle,
            started.stdout + started.stderr,
        )
        ready = time.monotonic()  # "ready": every daemon runs and the node is idle
        stop = subprocess.Popen(
            ["bash", str(SCRIPT), "stop"],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, OMNIBENCH_SLURM_STATE=str(state), **ports),
        )
        assert time.monotonic() - ready < 1.0
        out, _ = stop.communicate(timeout=300)
        assert stop.returncode == 0, out
        assert out.count("local-cluster: stopped ") == 5, out
        assert leftovers(state) == [], (cycle, out)
        assert not list((state / "run").glob("*.pid"))


@pytest.mark.slurm
def test_start_stops_a_daemon_whose_pid_file_is_gone(
    real_state: tuple[Path, dict[str, str]],
) -> None:
    state, ports = real_state
    assert cluster(state, "start", env=ports).returncode == 0
    stray = daemon_pid(state, "slurmdbd")
    (state / "run" / "slurmdbd.pid").unlink()  # as an earlier stop that did not wait for it left it

    again = cluster(state, "start", env=ports)

    assert again.returncode == 0, again.stdout + again.stderr
    assert f"no pid file names: slurmdbd:{stray}; stopping the cluster first" in again.stdout
    assert not is_alive(stray)
    assert (
        daemon_pid(state, "slurmdbd") != stray
        and cluster(state, "status", env=ports).returncode == 0
    )
    assert cluster(state, "stop", env=ports).returncode == 0 and leftovers(state) == []


@pytest.mark.slurm
def test_stop_and_start_after_a_start_killed_while_slurmdbd_starts(
    real_state: tuple[Path, dict[str, str]],
) -> None:
    state, ports = real_state
    env = dict(os.environ, OMNIBENCH_SLURM_STATE=str(state), **ports)
    interrupted = subprocess.Popen(
        ["bash", str(SCRIPT), "start"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(line.endswith(" slurmdbd") for line in leftovers(state)):
        assert time.monotonic() < deadline and interrupted.poll() is None, "slurmdbd never started"
        time.sleep(0.05)
    interrupted.kill()  # a test run killed by its time limit, say; slurmdbd may lack its pid file
    interrupted.wait()

    stopped = cluster(state, "stop", env=ports)

    assert stopped.returncode == 0 and leftovers(state) == [], stopped.stdout + stopped.stderr
    again = cluster(state, "start", env=ports)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [line.split()[1] for line in leftovers(state)].count("slurmdbd") == 1
