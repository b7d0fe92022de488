"""Two systems on two "machines" (state dirs) → bundles → one ledger → one tree that checks.

Real containers, real LoadGen: the organisation-wide flow of runs.yml on one host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPERF_OPS_PROJECT": str(REPO), "CI": "true"}
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", *args], capture_output=True, text=True, env=env,
                          timeout=1800)
    if check and done.returncode != 0:
        raise AssertionError(f"mlperf-ops {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def test_two_systems_apply_apart_merge_and_assemble_one_tree(tmp_path: Path) -> None:
    demo = yaml.safe_load((REPO / "manifests" / "demo-singlestream.yaml").read_text())
    first = demo["systems"][0]
    second = json.loads(json.dumps(first))
    second["id"] = "demo-cpu-2"
    for system in (first, second):
        system["benchmarks"][0]["compliance"] = []  # open division: audits optional; keeps the test short
    demo["systems"] = [first, second]
    manifest = tmp_path / "two.yaml"
    manifest.write_text(yaml.safe_dump(demo, sort_keys=False))
    _cli("validate", str(manifest))

    bundles = []
    for system in ("demo-cpu", "demo-cpu-2"):
        state = tmp_path / f"state-{system}"
        _cli("apply", str(manifest), "--system", system, "--state-dir", str(state))
        bundle = tmp_path / f"{system}.tar.gz"
        _cli("export", str(manifest), "--system", system, "--out", str(bundle), "--state-dir", str(state))
        bundles.append(str(bundle))

    merged = tmp_path / "merged"
    out = _cli("merge", *bundles, "--state-dir", str(merged), "--json")
    assert len(json.loads(out.stdout)["imported"]) == 6  # 3 runs (calibration, performance, accuracy) × 2

    status = json.loads(_cli("status", str(manifest), "--state-dir", str(merged), "--json").stdout)
    assert {row["state"] for row in status} == {"up-to-date"}

    tree = tmp_path / "tree"
    _cli("assemble", str(manifest), "--out", str(tree), "--smoke", "--state-dir", str(merged))
    results = tree / "open" / "MLPerfOpsDemo" / "results"
    assert sorted(p.name for p in results.iterdir()) == ["demo-cpu", "demo-cpu-2"]
    report = json.loads(_cli("check", str(tree), "--json").stdout)
    assert len(report["results"]) == 2
    assert not [f for f in report["findings"] if f["severity"] == "error"]
