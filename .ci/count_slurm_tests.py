"""Count the tests marked ``slurm`` in pytest JUnit XML files: passed, skipped, failed.

``tests/conftest.py`` names each test's markers in a ``markers`` property of its test case.
A test passed when its case holds no ``skipped``, ``failure`` or ``error`` element (an error in
set-up or tear-down fails it too). Prints ``PASSED SKIPPED FAILED`` summed over the files named;
a missing file counts nothing (pytest did not get to write it).
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

MARKER = "slurm"


def outcome(case: ET.Element) -> str:
    """passed, skipped or failed, from a <testcase> element's children."""
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"


def is_marked(case: ET.Element, marker: str = MARKER) -> bool:
    """Whether the case's ``markers`` property names ``marker``."""
    return any(prop.get("name") == "markers" and marker in prop.get("value", "").split()
               for prop in case.iterfind("properties/property"))


def count(junit: Path, marker: str = MARKER) -> Counter[str]:
    """Outcomes of the test cases marked ``marker``."""
    if not junit.is_file():
        return Counter()
    return Counter(outcome(case) for case in ET.parse(junit).iter("testcase") if is_marked(case, marker))


def count_all(junits: list[Path], marker: str = MARKER) -> Counter[str]:
    """:func:`count` summed over several files (``make test`` and ``make test-slow``)."""
    return sum((count(junit, marker) for junit in junits), Counter())


if __name__ == "__main__":
    tally = count_all([Path(name) for name in sys.argv[1:]])
    print(tally["passed"], tally["skipped"], tally["failed"])
