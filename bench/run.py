"""Run every bench/bench_*.py in turn and print its output (`make bench`).

Each script runs in its own interpreter so one script's caches and imports do not
flatter the next. Every figure lands in dist/bench.json (started afresh here; see
bench/figures.py), and a table of them closes the run. Exit status: 1 if any script
failed, else 0 (a figure that misses its bar is reported, not an error: machines vary).

    python bench/run.py [NAME...]   # only bench_NAME.py scripts, e.g. `startup upload`
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = [s for s in sorted(HERE.glob("bench_*.py")) if not wanted or s.stem[len("bench_"):] in wanted]
    if not scripts:
        print("no bench/bench_*.py scripts found", file=sys.stderr)
        return 1
    env = dict(os.environ)
    bench_json = Path(env.setdefault("MLPERF_OPS_BENCH_JSON", str(HERE.parent / "dist" / "bench.json")))
    if not wanted:
        bench_json.unlink(missing_ok=True)  # a full run starts the figures afresh
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    byte_compile()
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
    summarise(bench_json)
    if failed:
        print(f"bench scripts failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def byte_compile() -> None:
    """Measure the tool as installed: pip byte-compiles a wheel's modules when it installs
    them, but an editable install (`make venv`) compiles on first import, and not at all
    where PYTHONDONTWRITEBYTECODE is set (as in some CI shells). Then every command would
    compile its modules again, about 40 ms of `upload`'s 120 ms of fixed cost, a cost no
    installed copy has. Up-to-date .pyc files are left alone."""
    import compileall

    compileall.compile_dir(HERE.parent / "mlperf_ops", quiet=1)


def summarise(bench_json: Path) -> None:
    """One line per figure in bench.json: median, spread, bar, verdict."""
    if not bench_json.is_file():
        return
    figures = json.loads(bench_json.read_text())
    print(f"== figures ({bench_json})")
    for name, fig in sorted(figures.items()):
        lo, hi = fig["spread"]
        sign = ">=" if fig.get("higher_is_better", True) else "<="
        print(f"  {name:34s} {fig['ratio']:9.3f}  [{lo:.3f}, {hi:.3f}]  bar {sign} {fig['bar']:<6g} "
              f"{fig.get('verdict', '')}")


if __name__ == "__main__":
    sys.exit(main())
