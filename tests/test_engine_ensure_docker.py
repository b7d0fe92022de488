"""scripts/ensure-docker.sh: idempotent when an engine answers, explicit when it cannot help."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-docker.sh"


@pytest.mark.docker
def test_exits_zero_when_the_engine_answers():
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    again = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""  # nothing to do, nothing said


def test_a_foreign_docker_host_is_explained_not_started():
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert "DOCKER_HOST=unix:///nonexistent.sock" in done.stderr
    assert "What to do" in done.stderr
    assert "docker group" in done.stderr or "usermod -aG docker" in done.stderr
