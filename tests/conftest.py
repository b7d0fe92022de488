"""Shared test setup: one BLAS thread (2-core CI machines), Docker fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = ["tests.support.docker_fixtures"]
