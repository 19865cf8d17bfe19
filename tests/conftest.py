"""Shared pytest fixtures. Run the suite with `make test` (or `.venv/bin/python -m pytest -q`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real benchmark files live beside the checkout (never inside it: IgakuQA has no license).
SHARED_BENCHMARKS = Path(os.environ.get("MEDREASONER_SHARED", REPO.parent / "shared")) / "benchmarks"


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    """Path to ../shared/benchmarks; skips the test with a reason when it is absent."""
    if not SHARED_BENCHMARKS.is_dir():
        pytest.skip(f"real benchmark files not found at {SHARED_BENCHMARKS} (set MEDREASONER_SHARED)")
    return SHARED_BENCHMARKS
