"""Run every bench/bench_*.py in turn and print its output (`make bench`).

Each script runs in its own interpreter so one script's caches and imports do not
flatter the next. Exit status: 1 if any script failed, else 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print("no bench/bench_*.py scripts found", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, env=env, check=False)
        elapsed = time.perf_counter() - start
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"== {script.name}: {status} in {elapsed:.1f} s", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"bench scripts failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
