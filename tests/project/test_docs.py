"""The docs' relative links point at files that exist (README, docs/, slurm/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "slurm" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
    missing = [link for link in links if "://" not in link and not (page.parent / link).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_the_architecture_table_names_every_folder_and_top_level_module_once() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = [
        line
        for line in text.splitlines()
        if line.startswith("| ") and "`omnibench/" in line.split("|")[2]
    ]
    listed = [
        re.search(r"`omnibench/([^`]+)`", line.split("|")[2]).group(1).rstrip("/") for line in table
    ]
    package = ROOT / "omnibench"
    present = sorted(
        [p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
        + [p.name for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")]
    )
    assert sorted(listed) == present
