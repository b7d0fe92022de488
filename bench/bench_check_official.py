"""`check` beside the official submission checker: wall time on the same trees, same verdicts.

Two figures, each official seconds / our seconds over alternating pairs (bar >= 5):
  - check_vs_official_real: the largest real tree of tests/data/real_trees/ (most results,
    then most bytes), checked for the round its official_verdicts.json names;
  - check_vs_official_200: the LoadGen tree of tests/support/treegen.py copied under 67 system
    names (201 results), without its SMOKE_TREE.txt marker so that both checkers judge
    it as a submission (both refuse every result: 1 s runs miss the 600 s rule).
Both sides run as a user runs them, one process per check: `python -m mlperf_ops check
TREE --round R --json` and `python <checkout>/tools/submission/submission_checker/main.py
--input TREE --version R --csv FILE`. Before timing, the per-result verdicts of both are
compared, and the tree's own (ours exits 0; the official one says "submission looks OK"); a
figure whose verdicts differ is reported as not judgeable, with the results that differ.

The corpus holds excerpts (a few results each, kept small), on which both checkers spend
most of their time starting Python. A third figure, check_vs_official_published, times a
whole published tree when MLPERF_RESULTS_TREE names one: a directory with closed/ (or
open/) holding one or more submitters as a results repository publishes them (for example
closed/HPE of mlcommons/inference_results_v6.0, 86 results), its round from
MLPERF_RESULTS_ROUND or else from a `vX.Y` in its path. Nothing of it enters this project.

With MLPERF_RESULTS_SURVEY naming a whole results repository (closed/ and open/ of every
submitter of a round, e.g. a checkout of mlcommons/inference_results_v6.0; its round as
above), each submitter's tree is checked alone by both checkers, three times each,
alternating: a table of official seconds / ours per tree, how many trees agree result by
result, and dist/check_survey.json. Each tree is a hard-linked copy in a temporary folder
(a plain copy where links cannot be made). The bar is a figure's, not the survey's: its
spread is across trees, not noise, so it is reported and never judged. The survey's
submitter tree with the most results is then timed as a figure of its own,
check_vs_official_largest, pair by pair like the others: the largest real tree at hand
(GATEOverflow's open tree of v5.1, 796 results, in mlcommons/inference_results_v5.1),
where both checkers spend their time checking rather than starting Python.

The official side needs MLPERF_INFERENCE_CHECKOUT (a mlcommons/inference checkout, outside
this project); without it the bench says so and times only our side.

    MLPERF_INFERENCE_CHECKOUT=/path/to/inference python bench/bench_check_official.py
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mlperf_ops.check.official import _entry_point, per_result_verdicts  # noqa: E402

from tests.support import treegen  # noqa: E402
from figures import Figure, Noise, alternating_pairs, pair_count, report, timed  # noqa: E402

CORPUS = HERE.parent / "tests" / "data" / "real_trees"
CHECKOUT_ENV = "MLPERF_INFERENCE_CHECKOUT"
BAR = 5.0
GENERATED_SYSTEMS = 67  # x 3 scenarios = 201 results


def largest_real_tree() -> tuple[Path, str]:
    """(tree, round) of the corpus entry with the most results, then the most bytes."""
    best: tuple[int, int, Path, str] | None = None
    for entry in sorted(CORPUS.iterdir()):
        doc_path = entry / "official_verdicts.json"
        if not doc_path.is_file():
            continue
        doc = json.loads(doc_path.read_text())
        tree = entry / "tree"
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        candidate = (len(doc["results"]), size, tree, str(doc["round"]))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    assert best is not None, f"no real trees under {CORPUS}"
    return best[2], best[3]


def generated_tree(dest: Path) -> Path:
    from bench_check_pack import build_large

    root = build_large(dest, GENERATED_SYSTEMS)
    (root / "SMOKE_TREE.txt").unlink()  # judged as a submission, as the official checker does
    return root


RESULTS_TREE_ENV = "MLPERF_RESULTS_TREE"
RESULTS_ROUND_ENV = "MLPERF_RESULTS_ROUND"


def published_tree() -> tuple[Path, str] | None:
    """(tree, round) of the published tree MLPERF_RESULTS_TREE names, if it names one."""
    raw = os.environ.get(RESULTS_TREE_ENV)
    if not raw:
        return None
    tree = Path(raw).resolve()
    found = re.search(r"v\d+\.\d+", str(tree))
    round_name = os.environ.get(RESULTS_ROUND_ENV) or (found.group(0) if found else None)
    if not tree.is_dir() or round_name is None:
        raise SystemExit(f"{RESULTS_TREE_ENV}={raw}: give a directory holding closed/ or open/, and its round "
                         f"in {RESULTS_ROUND_ENV} unless the path names it (vX.Y)")
    return tree, round_name


# The tree's own verdict, beside its results': a file of the tree outside every result
# (a log in results/) can fail one checker's tree and not the other's.
WHOLE_TREE = "(the whole tree)"


def run_ours(tree: Path, round_name: str) -> dict[str, bool]:
    """Each result's verdict, and the tree's (WHOLE_TREE: exit 0)."""
    proc = subprocess.run([sys.executable, "-m", "mlperf_ops", "check", str(tree), "--round", round_name, "--json"],
                          capture_output=True, text=True, check=False)
    try:  # exit 0 (passed) or 3 (refused results) both carry the verdicts
        results = json.loads(proc.stdout)["results"]
    except (ValueError, KeyError):
        raise SystemExit(f"mlperf-ops check failed on {tree} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return {**{r["path"]: bool(r["valid"]) for r in results}, WHOLE_TREE: proc.returncode == 0}


def run_official(checkout: Path, tree: Path, round_name: str, csv: Path) -> dict[str, bool]:
    proc = subprocess.run([sys.executable, str(_entry_point(checkout)), "--input", str(tree), "--version", round_name,
                           "--csv", str(csv)], capture_output=True, text=True, cwd=checkout, check=False)
    output = proc.stdout + proc.stderr
    if "Traceback (most recent call last)" in output:
        raise SystemExit(f"the official checker crashed on {tree}:\n{output[-3000:]}")
    return {**per_result_verdicts(output, tree), WHOLE_TREE: "SUMMARY: submission looks OK" in output}


def cpu_timed(call: Callable[[], object], cpu: list[float]) -> float:
    """Wall seconds of `call`; the CPU seconds of the processes it ran go to `cpu` (user +
    system, all their processes): what the wall time is made of when other programs share
    the machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(call)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def measure(name: str, label: str, tree: Path, round_name: str, checkout: Path | None, work: Path) -> None:
    ours = run_ours(tree, round_name)
    results = len(ours) - 1
    accepted = sum(v for k, v in ours.items() if k != WHOLE_TREE)
    print(f"{label}: {tree} ({round_name}), {results} results, ours: {accepted} accepted, "
          f"{results - accepted} refused; the tree {'passes' if ours[WHOLE_TREE] else 'fails'}", flush=True)
    if checkout is None:
        seconds = min(timed(lambda: run_ours(tree, round_name)) for _ in range(3))
        print(f"  our check: {seconds:.2f} s (best of 3); the official side is not measured: "
              f"{CHECKOUT_ENV} is not set (give it a mlcommons/inference checkout)", flush=True)
        return
    csv = work / f"{name}.csv"
    official = run_official(checkout, tree, round_name, csv)
    differ = sorted(k for k in set(ours) | set(official) if ours.get(k) != official.get(k))
    for key in differ[:10]:
        print(f"  verdicts differ: {key}: ours {ours.get(key)}, official {official.get(key)}", flush=True)
    noise = Noise()
    cpu_official: list[float] = []
    cpu_ours: list[float] = []
    pairs = alternating_pairs(lambda: cpu_timed(lambda: run_official(checkout, tree, round_name, csv), cpu_official),
                              lambda: cpu_timed(lambda: run_ours(tree, round_name), cpu_ours), pair_count(), noise)
    t_official = sorted(b for b, _ in pairs)[len(pairs) // 2]
    t_ours = sorted(s for _, s in pairs)[len(pairs) // 2]
    c_official = sorted(cpu_official)[len(cpu_official) // 2]
    c_ours = sorted(cpu_ours)[len(cpu_ours) // 2]
    print(f"  official checker: {t_official:.2f} s, mlperf-ops check: {t_ours:.2f} s (medians of {len(pairs)}); "
          f"CPU seconds: official {c_official:.2f}, ours {c_ours:.2f} (all processes)", flush=True)
    report(Figure(
        name, [b / s for b, s in pairs], bar=BAR, higher_is_better=True, noise=noise,
        what=f"official checker seconds / `mlperf-ops check` seconds on {label} ({results} results, "
             f"{round_name}), one process each",
        blocker=(f"the verdicts differ on {len(differ)} of {len(ours)} (its {results} results and the tree)"
                 if differ else None),
        extra={"official_s": round(t_official, 3), "ours_s": round(t_ours, 3), "results": results,
               "official_cpu_s": round(c_official, 3), "ours_cpu_s": round(c_ours, 3),
               "same_verdicts": not differ, "tree": str(tree.relative_to(HERE.parent)) if tree.is_relative_to(
                   HERE.parent) else label}))


SURVEY_ENV = "MLPERF_RESULTS_SURVEY"
SURVEY_RUNS = 3


def submitter_trees(repository: Path, work: Path) -> list[tuple[str, Path]]:
    """("<division>/<submitter>", a tree holding that submitter alone) for each submitter."""
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # another file system, or no hard links there
            shutil.copy2(src, dst)

    trees = []
    for division in ("closed", "open", "network"):
        for submitter in sorted(p for p in (repository / division).glob("*") if p.is_dir() and not p.is_symlink()):
            root = work / "survey" / f"{division}-{submitter.name}"
            shutil.copytree(submitter, root / division / submitter.name, symlinks=True, copy_function=link_or_copy)
            trees.append((f"{division}/{submitter.name}", root))
    return trees


def survey(repository: Path, round_name: str, checkout: Path, work: Path) -> tuple[str, Path] | None:
    """Every submitter of a round, alone: official seconds / ours, and whether they agree.
    Returns the submitter tree with the most results (its name and its copy in `work`),
    None when every tree was skipped."""
    rows: list[dict[str, object]] = []
    largest: tuple[int, str, Path] | None = None
    ratios: list[float] = []
    for name, tree in submitter_trees(repository, work):
        csv = work / "survey.csv"
        ours_s, official_s = [], []
        ours: dict[str, bool] = {}
        official: dict[str, bool] = {}
        try:
            for _ in range(SURVEY_RUNS):
                official_s.append(timed(lambda: official.update(run_official(checkout, tree, round_name, csv))))
                ours_s.append(timed(lambda: ours.update(run_ours(tree, round_name))))
        except SystemExit as crashed:  # a crash has no time to compare (a snapshot missing files, say)
            why = str(crashed).strip().splitlines()[-1][:160]
            rows.append({"tree": name, "skipped": why})
            print(f"  {name:44} skipped: {why}", flush=True)
            continue
        differ = sorted(k for k in set(ours) | set(official) if k != WHOLE_TREE and ours.get(k) != official.get(k))
        t_official, t_ours = sorted(official_s)[SURVEY_RUNS // 2], sorted(ours_s)[SURVEY_RUNS // 2]
        ratio = round(t_official / t_ours, 2)
        ratios.append(ratio)
        if largest is None or len(ours) - 1 > largest[0]:
            largest = (len(ours) - 1, name, tree)
        rows.append({"tree": name, "results": len(ours) - 1, "official_s": round(t_official, 3),
                     "ours_s": round(t_ours, 3), "ratio": ratio, "verdicts_differ": differ})
        print(f"  {name:44} {len(ours) - 1:4} results  official {t_official:6.3f} s  ours {t_ours:6.3f} s  "
              f"{ratio:5.2f}x{'  differ: ' + ', '.join(differ[:3]) if differ else ''}", flush=True)
    ratios.sort()
    summary = {"round": round_name, "trees": len(ratios), "skipped": len(rows) - len(ratios), "ours_faster": sum(r > 1 for r in ratios),
               "at_least_bar": sum(r >= BAR for r in ratios), "median_ratio": ratios[len(ratios) // 2] if ratios else None,
               "trees_that_differ": sum(bool(r.get("verdicts_differ")) for r in rows), "rows": rows}
    print(f"survey of {repository} ({round_name}): ours is faster on {summary['ours_faster']} of {len(ratios)} "
          f"submitter trees, at least {BAR:g}x on {summary['at_least_bar']}, median {summary['median_ratio']}x; "
          f"verdicts differ on {summary['trees_that_differ']} tree(s); {len(rows) - len(ratios)} skipped", flush=True)
    out = HERE.parent / "dist" / "check_survey.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"  written to {out}", flush=True)
    return None if largest is None else (largest[1], largest[2])


def byte_compile_official(checkout: Path) -> None:
    """Both sides start from byte-compiled modules: make bench compiles ours (bench/run.py),
    and where PYTHONDONTWRITEBYTECODE is set the official checker would otherwise compile
    its own modules on every run, a cost it does not have where it is installed. This
    writes only __pycache__ folders into the checkout."""
    import compileall

    compileall.compile_dir(checkout / "tools" / "submission", quiet=1)


def main() -> None:
    raw = os.environ.get(CHECKOUT_ENV)
    checkout = Path(raw).resolve() if raw else None
    if checkout is None:
        print(f"{CHECKOUT_ENV} is not set: check is timed alone, with no official side and no figure", flush=True)
    else:
        byte_compile_official(checkout)
    work = Path(tempfile.mkdtemp(prefix="bench-check-official-"))
    try:
        tree, round_name = largest_real_tree()
        measure("check_vs_official_real", f"the largest real tree ({tree.parent.name})", tree, round_name,
                checkout, work)
        generated = generated_tree(work / "tree")
        measure("check_vs_official_200", "the generated tree", generated, treegen.ROUND, checkout, work)
        published = published_tree()
        if published is None:
            print(f"{RESULTS_TREE_ENV} is not set: no whole published tree is timed", flush=True)
        else:
            measure("check_vs_official_published", f"a published tree ({published[0]})", published[0], published[1], checkout, work)
        raw_survey = os.environ.get(SURVEY_ENV)
        if raw_survey and checkout is not None:
            repository = Path(raw_survey).resolve()
            found = re.search(r"v\d+\.\d+", str(repository))
            round_name = os.environ.get(RESULTS_ROUND_ENV) or (found.group(0) if found else "")
            if not round_name:
                raise SystemExit(f"{SURVEY_ENV}={raw_survey}: give its round in {RESULTS_ROUND_ENV}")
            largest = survey(repository, round_name, checkout, work)
            if largest is not None:  # the "largest real tree": timed as a figure, pair by pair
                measure("check_vs_official_largest", f"the survey's largest submitter tree ({largest[0]})",
                        largest[1], round_name, checkout, work)
        elif raw_survey:
            print(f"{SURVEY_ENV} is set but {CHECKOUT_ENV} is not: no survey without the official side", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
