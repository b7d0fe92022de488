"""How long `check` takes on a large tree, and `pack` throughput relative to `tar czf`.

Builds the real LoadGen smoke tree of tests/support/treegen.py once, copies its results
under many system names (hundreds of results), then times:
  - check_tree on the whole tree (seconds, and per result);
  - figure `pack_vs_tar`: throughput of pack() (check included) over `tar czf` of the
    same tree, median of alternating pairs (bar >= 0.9). pack uses gzip level 1 and
    `tar czf` gzip's default 6: the sizes are printed beside it.
No assertion (machines are noisy): the figure and its verdict go to dist/bench.json.

    python bench/bench_check_pack.py [--systems 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import treegen  # noqa: E402

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.ship.pack import pack  # noqa: E402

from figures import Figure, Noise, alternating_pairs, pair_count, report, timed  # noqa: E402


def build_large(dest: Path, systems: int) -> Path:
    root = treegen.copy_tree(dest)
    sub = treegen.submitter_dir(root)
    source = sub / "results" / treegen.SYSTEM
    doc = json.loads((sub / "systems" / f"{treegen.SYSTEM}.json").read_text())
    for i in range(1, systems):
        name = f"cpu-edge-{i + 1}"
        shutil.copytree(source, sub / "results" / name)
        (sub / "systems" / f"{name}.json").write_text(json.dumps(dict(doc, system_name=name), indent=2))
    return root


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-check-pack-"))
    try:
        root = build_large(work / "tree", args.systems)
        checked = check_tree(root)
        n = len(checked.results)
        files = sum(1 for p in root.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        assert checked.ok, [f.rule_id for f in checked.errors][:5]
        t_check = best_of(lambda: check_tree(root), repeat=1)
        noise = Noise()
        pairs = alternating_pairs(
            lambda: timed(lambda: subprocess.run(["tar", "czf", str(work / "ref.tar.gz"), "-C", str(root), "."],
                                                 check=True)),
            lambda: timed(lambda: pack(root, work / "out")),
            pair_count(), noise)
        t_tar = statistics.median(b for b, _ in pairs)
        t_pack = statistics.median(s for _, s in pairs)
        pack_size = next((work / "out").glob("*.tar.gz")).stat().st_size
        tar_size = (work / "ref.tar.gz").stat().st_size
        print(f"tree: {n} results, {files} files, {size / 1e6:.1f} MB")
        print(f"check: {t_check:.2f} s ({1000 * t_check / n:.1f} ms per result)")
        print(f"pack: {t_pack:.2f} s ({size / 1e6 / t_pack:.1f} MB/s); tar czf: {t_tar:.2f} s "
              f"({size / 1e6 / t_tar:.1f} MB/s) (medians)")
        print(f"sizes: pack {pack_size / 1e6:.2f} MB (gzip -1), tar czf {tar_size / 1e6:.2f} MB (gzip -6)")
        report(Figure("pack_vs_tar", [b / s for b, s in pairs], bar=0.9, higher_is_better=True, noise=noise,
                      what=f"pack throughput / `tar czf` throughput on {n} results ({size / 1e6:.0f} MB)",
                      extra={"pack_s": round(t_pack, 3), "tar_s": round(t_tar, 3),
                             "pack_mb": round(pack_size / 1e6, 2), "tar_mb": round(tar_size / 1e6, 2)}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
