"""CLI start-up: `mlperf-ops --help` and `check` of an empty tree against a bare
interpreter, in alternating pairs.

    python bench/bench_startup.py

Figures (bar 0.15 s each): `cli_startup_s`, median seconds of `python -m mlperf_ops --help`
(it lists every verb, without importing their modules); `cli_check_empty_s`, of
`python -m mlperf_ops check EMPTY_DIR` (the checker's own imports and its rules, exit 3:
the tree holds nothing). The bare `python -c pass` of each pair is given beside them, so a
slow machine shows as a slow baseline. Guard (no test, no timing): `python -X importtime` of `mlperf_ops.cli`
must import none of the heavy libraries a verb may need (jsonschema, docker, requests,
rich, yaml, the manifest package); the bench fails if one creeps back in.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile

from figures import REPO, Figure, Noise, alternating_pairs, pair_count, report, timed

HEAVY = ("jsonschema", "docker", "requests", "rich", "yaml", "mlperf_ops.manifest", "mlperf_ops.check")


def run(*args: str, exit_code: int = 0) -> None:
    done = subprocess.run([sys.executable, *args], cwd=REPO, check=False, capture_output=True)
    if done.returncode != exit_code:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}, expected {exit_code}\n{done.stderr.decode()[-2000:]}")


def import_guard() -> list[str]:
    """Heavy modules that `import mlperf_ops.cli` loads (from -X importtime), slowest first."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import mlperf_ops.cli"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    total = max((us for us, _ in rows), default=0)
    print(f"import mlperf_ops.cli: {total / 1e3:.1f} ms cumulative (python -X importtime)")
    return [f"{name} ({us / 1e3:.1f} ms)" for us, name in sorted(set(rows), reverse=True) if name in HEAVY]


def main() -> int:
    heavy = import_guard()
    with tempfile.TemporaryDirectory(prefix="bench-empty-tree-") as empty:
        commands = {  # figure -> (arguments, exit code)
            "cli_startup_s": (("-m", "mlperf_ops", "--help"), 0),
            "cli_check_empty_s": (("-m", "mlperf_ops", "check", empty), 3),
        }
        for name, (args, code) in commands.items():
            run(*args, exit_code=code)  # warm the page cache and .pyc files
            noise = Noise()
            pairs = alternating_pairs(lambda: timed(lambda: run("-c", "pass")),
                                      lambda: timed(lambda: run(*args, exit_code=code)),
                                      pair_count(7), noise)
            bare = statistics.median(b for b, _ in pairs)
            shown = " ".join(args[:3]) + (" EMPTY_DIR" if len(args) > 3 else "")
            report(Figure(name, [s for _, s in pairs], bar=0.15, higher_is_better=False, tolerance=0.25,
                          what=f"seconds of `python {shown}` (bare interpreter: {bare:.3f} s median)",
                          noise=noise, extra={"baseline_s": round(bare, 4)}))
    if heavy:
        print(f"GUARD FAILED: importing mlperf_ops.cli loads {', '.join(heavy)}; import them inside the "
              "verb that needs them", file=sys.stderr)
        return 1
    print("guard: importing mlperf_ops.cli loads no heavy module")
    return 0


if __name__ == "__main__":
    sys.exit(main())
