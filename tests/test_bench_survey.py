"""The bench's survey of a whole results repository checks each submitter alone, in a tree
that holds that submitter only: the split must not change a verdict (real excerpts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_check_official import submitter_trees  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "real_trees"


def _verdicts(tree: Path, round_name: str) -> dict[str, bool]:
    proc = subprocess.run([sys.executable, "-m", "mlperf_ops", "check", str(tree), "--round", round_name, "--json"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
                          timeout=300)
    return {r["path"]: r["valid"] for r in json.loads(proc.stdout)["results"]}


def test_each_submitter_is_checked_alone_with_the_verdicts_of_the_whole(tmp_path: Path) -> None:
    # a repository of two published v6.0 excerpts: Krai (closed and open) and GATEOverflow (closed)
    repository = tmp_path / "inference_results_v6.0"
    for name in ("krai_v6.0", "gateoverflow_v6.0"):
        shutil.copytree(CORPUS / name / "tree", repository, dirs_exist_ok=True)
    whole = _verdicts(repository, "v6.0")
    trees = submitter_trees(repository, tmp_path / "work")
    assert [name for name, _ in trees] == ["closed/GATEOverflow", "closed/Krai", "open/Krai"]
    alone: dict[str, bool] = {}
    for name, tree in trees:
        division, submitter = name.split("/")
        assert [p.relative_to(tree).as_posix() for p in tree.glob("*/*")] == [name]  # that submitter only
        source = next(p for p in (repository / division / submitter).rglob("*") if p.is_file())
        copy = tree / source.relative_to(repository)
        assert os.path.samefile(source, copy)  # hard-linked, not copied
        alone.update(_verdicts(tree, "v6.0"))
    assert alone == whole and whole
