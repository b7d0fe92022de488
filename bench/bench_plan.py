"""How fast the foundation is: plan() over ~10,000 runs, and validate vs a bare YAML parse.

Each figure is printed next to a baseline measured in the same process, as a ratio,
because absolute times on a shared machine mean little. No assertions.

    python bench/bench_plan.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from mlperf_ops.core.keys import content_key  # noqa: E402
from mlperf_ops.manifest import check_manifest  # noqa: E402
from mlperf_ops.manifest.model import Manifest, build_manifest  # noqa: E402
from mlperf_ops.manifest.pipeline import load_profile  # noqa: E402
from mlperf_ops.plan.matrix import plan  # noqa: E402
from mlperf_ops.state.snapshot import LedgerSnapshot
from mlperf_ops.rules import Rules, load_rules  # noqa: E402

TARGET_RUNS = 10_000
REPEATS = 3
# The expected-performance setting of each scenario, so nothing needs calibrating.
TARGETS: dict[str, dict[str, Any]] = {
    "SingleStream": {"target_latency": 0.5},
    "MultiStream": {"target_latency": 4},
    "Offline": {"target_qps": 1000},
    "Server": {"target_qps": 500},
}


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def runs_per_system(rules: Rules, benchmarks: list[dict[str, Any]]) -> int:
    total = 0
    for bench in benchmarks:
        rb = rules.benchmarks[bench["name"]]
        audits = sum(1 for t in rb.compliance_tests if rules.audit_tests[t].kind != "external")
        total += len(bench["scenarios"]) * (2 + audits)
    return total


def synthetic_manifest(rules: Rules) -> Manifest:
    """A closed edge submission: every edge benchmark × its required scenarios, on N systems."""
    benchmarks = []
    for name in sorted(rules.benchmarks):
        if not rules.offered(name, "edge"):
            continue
        scenarios = {s: dict(TARGETS[s]) for s in rules.required_scenarios(name, "edge")}
        benchmarks.append({"name": name, "scenarios": scenarios})
    per_system = runs_per_system(rules, benchmarks)
    systems = -(-TARGET_RUNS // per_system)
    data = {
        "version": 1, "round": rules.round, "submitter": "BenchCorp", "division": "closed",
        "status": "available", "system_type": "edge", "pipeline": "submission",
        "systems": [{"id": f"sut-{i:04d}", "image": "cpu", "benchmarks": benchmarks} for i in range(systems)],
    }
    return build_manifest(data, "synthetic.yaml")


def bench_plan() -> None:
    rules = load_rules("v6.1")
    profile = load_profile(REPO, "submission")
    manifest = synthetic_manifest(rules)
    images = {"cpu": "sha256:" + "c" * 64}
    ledger = LedgerSnapshot()
    result = plan(manifest, rules, profile, images, ledger)  # warm-up (rules, renderers)
    n = len(result.runs)
    inputs = [dict(r.spec.inputs) for r in result.runs]

    t_plan = best_of(lambda: plan(manifest, rules, profile, images, ledger))
    t_keys = best_of(lambda: [content_key(i) for i in inputs])
    t_dicts = best_of(lambda: [{**i, "mode": i["mode"], "references": dict(i["references"])} for i in inputs])

    print(f"plan: systems={len(manifest.systems)} runs={n}")
    print(f"plan: total {t_plan * 1e3:.1f} ms, {t_plan / n * 1e6:.1f} us/run (best of {REPEATS})")
    print(f"plan baseline content_key x{n}: {t_keys * 1e3:.1f} ms, {t_keys / n * 1e6:.1f} us/run")
    print(f"plan baseline dict building x{n}: {t_dicts * 1e3:.1f} ms, {t_dicts / n * 1e6:.2f} us/run")
    print(f"plan ratio plan/content_key: {t_plan / t_keys:.2f}x")
    print(f"plan ratio plan/dict building: {t_plan / t_dicts:.1f}x")

    # With everything done the planner does the same work and skips every run.
    done_ledger = LedgerSnapshot(done={r.spec.key: _summary(r) for r in result.runs})
    t_done = best_of(lambda: plan(manifest, rules, profile, images, done_ledger))
    print(f"plan all-done ledger: total {t_done * 1e3:.1f} ms, ratio vs empty ledger {t_done / t_plan:.2f}x")


def _summary(run: Any) -> Any:
    from mlperf_ops.state.snapshot import RecordSummary

    return RecordSummary(run_id=run.spec.run_id, key=run.spec.key, status="done", inputs=run.spec.inputs)


def bench_validate() -> None:
    paths = sorted((REPO / "manifests").glob("*.yaml"))
    texts = [p.read_text("utf-8") for p in paths]
    loops = 20
    for path in paths:  # warm-up: rules, schema and profiles are cached after the first call
        check_manifest(path)

    from mlperf_ops.execute.probe import probe_host

    host = probe_host()

    def validate_all() -> None:
        for _ in range(loops):
            for path in paths:
                _, problems = check_manifest(path, host_facts=lambda _system: host)
                assert not problems

    def parse_all() -> None:
        for _ in range(loops):
            for text in texts:
                yaml.safe_load(text)

    n = loops * len(paths)
    t_validate = best_of(validate_all)
    t_parse = best_of(parse_all)
    t_probe = best_of(probe_host)
    print(f"validate: {len(paths)} shipped manifests x{loops}")
    print(f"validate: {t_validate / n * 1e3:.2f} ms/manifest (read + positions + schema + cross-checks + documents)")
    print(f"validate: host probe {t_probe * 1e3:.1f} ms, once per command")
    print(f"validate baseline yaml.safe_load: {t_parse / n * 1e3:.2f} ms/manifest")
    print(f"validate ratio validate/safe_load: {t_validate / t_parse:.2f}x")


if __name__ == "__main__":
    bench_plan()
    bench_validate()
