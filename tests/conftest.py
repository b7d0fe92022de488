"""Shared test setup: one BLAS thread (2-core CI machines), Docker fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Test modules share helpers (treegen, test_upload_support) by plain import, so a single
# module runs on its own as well as in the whole suite.
sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = ["tests.conftest_docker"]
