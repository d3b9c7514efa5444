"""Per-module mutation score of the last ``mutmut run`` (read from ``mutmut results --all true``).

Prints a markdown table: killed (tests failed or timed out) / total mutants checked per module
(mutants outside ``make mutation``'s MUTANTS are "not checked" and left out), and lists the
mutants not killed (``mutmut show NAME`` prints each one's diff). ``--diffs`` prints instead each
mutant not killed with its diff, the body of docs/mutation-survivors.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {"killed", "timeout", "segfault"}
NAME = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+?)\.x[_ǁ]\S+): (?P<status>.+)$")


MUTMUT = Path(sys.executable).with_name("mutmut")


def _mutmut(*args: str) -> str:
    return subprocess.run([str(MUTMUT), *args], capture_output=True, text=True, check=True).stdout


def diff_lines(name: str) -> list[str]:
    """A mutant's changed lines (``-`` original, ``+`` mutant) under a ``## name`` heading."""
    changed = [
        line
        for line in _mutmut("show", name).splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]
    return [f"## {name.removeprefix('omnibench.')}", *changed]


def main() -> int:
    """Print the table and the survivors; non-zero exit when there are no results to read."""
    out = _mutmut("results", "--all", "true")
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for line in out.splitlines():
        match = NAME.match(line)
        if match is None:
            continue
        status = match["status"].strip()
        if status == "not checked":
            continue
        counts[match["module"]][status] += 1
        if status not in KILLED:
            survivors.append(f"{match['name']}: {status}")
    if not counts:
        print("no mutation results: run `make mutation` first", file=sys.stderr)
        return 1
    if "--diffs" in sys.argv[1:]:
        for line in survivors:
            print("\n".join(diff_lines(line.split(":")[0])))
        return 0
    print("| module | killed / total | score |\n|---|---|---|")
    for module, tally in sorted(counts.items()):
        killed, total = sum(tally[s] for s in KILLED), sum(tally.values())
        print(f"| `{module}` | {killed} / {total} | {100 * killed / total:.1f} % |")
    killed = sum(tally[s] for tally in counts.values() for s in KILLED)
    total = sum(sum(tally.values()) for tally in counts.values())
    print(f"| all | {killed} / {total} | {100 * killed / total:.1f} % |")
    print("\nNot killed:" if survivors else "\nEvery mutant was killed.")
    print("\n".join(f"- {line}" for line in survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
