"""Shared pytest fixtures. Run the suite with `make test` (or `.venv/bin/python -m pytest -q`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real benchmark files live beside the checkout (never inside it: IgakuQA has no license).
SHARED_BENCHMARKS = Path(os.environ.get("MEDREASONER_SHARED", REPO.parent / "shared")) / "benchmarks"


@pytest.fixture(scope="session", autouse=True)
def datasets_cache_in_tmp(tmp_path_factory) -> Path:
    """Point datasets' default cache at a session temp dir: the training-data loaders build an Arrow
    cache there when a stage passes no ``cache_dir``, and the suite must not fill ~/.cache."""
    cache = tmp_path_factory.mktemp("hf_datasets_cache")
    os.environ["HF_DATASETS_CACHE"] = str(cache)  # read by datasets when imported (child processes)
    if "datasets.config" in sys.modules:  # already imported while collecting: it reads this attribute
        sys.modules["datasets.config"].HF_DATASETS_CACHE = cache
    return cache


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    """Path to ../shared/benchmarks; skips the test with a reason when it is absent."""
    if not SHARED_BENCHMARKS.is_dir():
        pytest.skip(f"real benchmark files not found at {SHARED_BENCHMARKS} (set MEDREASONER_SHARED)")
    return SHARED_BENCHMARKS
