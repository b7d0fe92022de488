"""A fresh checkout for tests that run the project the way a user or a runner would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_checkout(dest: Path) -> Path:
    """The repository's files as `git clone` would give them, but as they are in the work
    tree (uncommitted edits included), with their times kept: a venv's stamp stays newer."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, check=True, capture_output=True).stdout.decode()
    for rel in filter(None, files.split("\0")):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest
