"""Test support: import a script under bench/ (bench/ is scripts, not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_script(path: Path, module_name: str):
    """Import the Python file at ``path`` as module ``module_name``, without putting bench/ on sys.path."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
