"""Shared test settings: offline hub, CPU threads, and the reference files when present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference, or skip the test cleanly when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference files not present at {REFERENCE}")
    return REFERENCE
