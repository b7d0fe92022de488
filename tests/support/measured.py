"""Run `mlperf-ops` in a process of its own and read what that run cost it.

The CLI runs in-process in a fresh interpreter, which writes its own resource use to a file:
CPU seconds, and peak memory as VmHWM, the high-water mark of that process's own address
space (Linux keeps ru_maxrss across exec, so a child of an 850 MB pytest would report
850 MB), or the peak of a process it forked and waited for (`check` spreads a large tree
over forked workers), whichever is larger. Used by the hostile-input tests: a bound on
memory, never on time, decides them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

WRAPPER = (
    "import json, os, resource, sys\n"
    "from mlperf_ops.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "forked_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "hwm_kb = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "with open(os.environ['HOSTILE_RUSAGE'], 'w') as out:\n"
    "    json.dump({'cpu_s': u.ru_utime + u.ru_stime, 'maxrss_mb': max(hwm_kb, forked_kb) / 1024}, out)\n"
    "sys.exit(rc)\n"
)


def run_measured(args: Sequence[str], usage_file: Path, *, cwd: Path, env: dict[str, str] | None = None,
                 timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], dict[str, float]]:
    """`mlperf-ops ARGS` in its own interpreter: the finished process, and its usage
    ({"cpu_s", "maxrss_mb"}; empty when the run did not finish normally)."""
    full_env = {**(env if env is not None else os.environ), "HOSTILE_RUSAGE": str(usage_file)}
    result = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=cwd, env=full_env,
                            capture_output=True, text=True, errors="replace", timeout=timeout)
    usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
    return result, usage
