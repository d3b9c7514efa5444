"""Ctrl-C and SIGTERM stop a run at a safe point, wherever in the run the signal lands.

A handler that raises lands wherever the main thread is: in a finaliser (decord's
``VideoReader.__del__``), Python prints "Exception ignored" and the run trains on; inside
``torch.save``'s writer, the zip writer turns it into a RuntimeError and the next run starts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from omnibench.process import Terminated, stop_point, stops_at_safe_points


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C with Python's own handler, as in a terminal: a suite started in the background
    (``make test &``) inherits SIGINT ignored, which omnibench rightly leaves alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SignalledWhileFinalised:
    """An object whose finaliser receives ``signum`` (as a video reader freed mid-signal does)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        sum(range(100))  # bytecode after the signal: the handler runs here, inside the finaliser


@pytest.mark.parametrize(
    ("signum", "stop"), [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_inside_a_finaliser_stops_at_the_next_safe_point(
    signum: int, stop: type[BaseException]
) -> None:
    reached = []
    with pytest.raises(stop), stops_at_safe_points():
        SignalledWhileFinalised(signum)  # freed at once
        reached.append("after the finaliser")
        stop_point()
        reached.append("after the safe point")
    assert reached == ["after the finaliser"]


def test_a_signal_inside_torch_save_leaves_the_file_whole_and_stops(tmp_path: Path) -> None:
    class Signalling:
        def __init__(self, path: Path) -> None:
            self.handle, self.writes = open(path, "wb"), 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            if self.writes == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return self.handle.write(data)

        def flush(self) -> None:
            self.handle.flush()

    target = tmp_path / "state.pt"
    with pytest.raises(Terminated), stops_at_safe_points():
        sink = Signalling(target)
        torch.save({"w": torch.arange(1000.0)}, sink)
        sink.handle.close()
        stop_point()
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.arange(1000.0))


def test_a_stop_during_a_failing_block_wins_over_the_failure() -> None:
    with pytest.raises(Terminated) as stopped, stops_at_safe_points():
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(100))
        raise ValueError("the run failed meanwhile")
    assert isinstance(stopped.value.__context__, ValueError)


def test_a_second_signal_raises_at_once_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), stops_at_safe_points():
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(100))
        os.kill(os.getpid(), signal.SIGTERM)  # the user insists: no safe point needed
        sum(range(100))
        pytest.fail("the second SIGTERM did not raise")
    assert signal.getsignal(signal.SIGTERM) is before
    stop_point()  # nothing pending is left behind


def test_sigterm_is_left_to_its_handler_when_asked() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with stops_at_safe_points(sigterm=False):  # under Slurm: submitit's handler requeues
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(100))
            stop_point()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIGTERM]
