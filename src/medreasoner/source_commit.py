"""The git commit of the medreasoner source a run used, for its stage manifests (provenance).

A number in a report should lead back to the code that produced it. Library versions do not: the
package version stays ``0.1.0`` across every commit of a checkout installed in editable mode.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


def source_commit() -> str | None:
    """``HEAD``'s commit hash of the checkout medreasoner runs from, with ``+dirty`` when files of
    the package differ from it; None when the package is not a tracked part of a git checkout (an
    installed wheel, no git)."""
    try:
        _git("ls-files", "--error-unmatch", "__init__.py")  # an installed copy that merely sits inside a repo
        commit = _git("rev-parse", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if changed else "")
