"""Campaign scale: how long `omnibench` takes over a store of N finished runs, as whole processes.

Builds (once, kept in FOLDER) a synthetic campaign of N runs with tools/campaign_store.py, then
times, as separate processes, what a researcher types: expanding the suite, `run` over the
finished store, `run --dry-run`, `status`, `report` (the grid table with Δ intervals to the
reference row). Each command runs once with the store's caches removed ("first":
what the first such command after a campaign pays) and then REPEATS times; the table gives the
best of the repeats (wall and CPU seconds), the first, and the peak memory (max RSS) of each. On
a shared machine the wall time grows with the load while the CPU time (user + system of the
process and its children) is what the command itself costs. The machine, its load before and
after, and the command line go with the table::

    python tools/bench_campaign.py /tmp/campaign --runs 1000 10000 --repeats 3 [--markdown FILE]
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from omnibench.atomic import atomic_write_text
from omnibench.store.run_files import CACHE_FILES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from campaign_store import SUITE, build_store  # noqa: E402

EXPAND = (
    "import sys, time; t, c = time.perf_counter(), time.process_time(); "
    "from omnibench.suite.load import load_suite; load_suite(sys.argv[1]); "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def commands(suite: Path, results: Path) -> dict[str, list[str]]:
    """What is timed, by its line in the table."""
    cli = [sys.executable, "-m", "omnibench"]
    where = ["--results", str(results)]
    return {
        "expanding the suite (`load_suite`, in-process)": [
            sys.executable,
            "-c",
            EXPAND,
            str(suite),
        ],
        "`omnibench run SUITE` over the finished store": [*cli, "run", str(suite), *where],
        "`omnibench run SUITE --dry-run`": [*cli, "run", str(suite), "--dry-run", *where],
        "`omnibench status SUITE`": [*cli, "status", str(suite), *where],
        "`omnibench report SUITE` (grid, Δ intervals)": [*cli, "report", str(suite), *where],
    }


Timing = tuple[float, float, float]  # wall seconds, CPU seconds, peak MiB


def timed(command: Sequence[str]) -> Timing:
    """(seconds, CPU seconds, peak MiB) of one run of ``command`` as its own process; the
    expansion line prints its in-process times, which replace the process's."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "100"},
    )
    out = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.decode(errors='replace')}")
    cpu = usage.ru_utime + usage.ru_stime
    if command[1] == "-c":
        seconds, cpu = (float(word) for word in out.decode().split()[-2:])
    return seconds, cpu, usage.ru_maxrss / 1024


Measured = tuple[Timing, Timing, float]  # the first run, the best of the repeats, peak MiB


def measure(folder: Path, runs: int, repeats: int) -> dict[str, Measured]:
    """line -> (first, best, peak MiB) for a store of ``runs`` runs."""
    suite, results = build_store(folder / f"n{runs}", runs)
    out = {}
    for line, command in commands(suite, results).items():
        for cache in CACHE_FILES:  # "first": no index yet
            (results / SUITE / cache).unlink(missing_ok=True)
        first = timed(command)
        repeated = [timed(command) for _ in range(repeats)] or [first]
        best = min(repeated)
        out[line] = (first, best, max(t[2] for t in [first, *repeated]))
        print(
            f"{runs:>6} runs  {line}: first {first[0]:.2f} s, best {best[0]:.2f} s "
            f"(CPU {best[1]:.2f} s), {out[line][2]:.0f} MiB",
            flush=True,
        )
    return out


def machine() -> str:
    """CPU model and cores, Python, omnibench's commit."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}; commit {sha or '?'}"
    )


def markdown(results: dict[int, dict[str, Measured]], header: str) -> str:
    """The table: a column per store size, each cell "best s (CPU s; first s), MiB"."""
    sizes = sorted(results)
    lines = [
        header,
        "",
        "| command | " + " | ".join(f"{n:,} runs".replace(",", " ") for n in sizes) + " |",
    ]
    lines.append("|---|" + "---|" * len(sizes))
    for line in next(iter(results.values())):
        cells = [_cell(*results[n][line]) for n in sizes]
        lines.append(f"| {line} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(first: Timing, best: Timing, memory: float) -> str:
    return f"{best[0]:.2f} s (CPU {best[1]:.2f} s; first {first[0]:.2f} s), {memory:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the synthetic stores are built and kept")
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the first")
    parser.add_argument("--markdown", type=Path, help="write the table to this file")
    args = parser.parse_args()
    for runs in args.runs:  # built first: the build is not what is measured
        build_store(args.folder / f"n{runs}", runs)
    # byte-compiled, as an installed omnibench is (pip compiles on install; under
    # PYTHONDONTWRITEBYTECODE an editable checkout would compile every module at every start)
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "omnibench", quiet=1)
    before = os.getloadavg()[0]
    results = {runs: measure(args.folder, runs, args.repeats) for runs in args.runs}
    after = os.getloadavg()[0]
    header = (
        f"{time.strftime('%Y-%m-%d')}: {machine()}; 1-minute load {before:.1f} before, "
        f"{after:.1f} after; `python tools/bench_campaign.py DIR --runs "
        f"{' '.join(map(str, args.runs))} --repeats {args.repeats}`"
    )
    table = markdown(results, header)
    print(table)
    if args.markdown is not None:
        atomic_write_text(args.markdown, table)


if __name__ == "__main__":
    main()
