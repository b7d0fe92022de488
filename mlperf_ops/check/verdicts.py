"""One verdict per result, as the official checker gives one (its Results / NoResults lines).

A result is refused when an error finding lies in its scenario folder (or, in a round
that keeps them apart, its measurements and compliance folders), or in something the
official procedure checks again for every result it loads: its benchmark folder (the
scenario list of the benchmark), its system (results/<system>/ and systems/<system>.json)
and its submitter folder outside results/ (src/, model_mapping.json). Errors elsewhere
(the tree root, another result) never decide it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlperf_ops.check.findings import Finding, ResultRow


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def _folders(path: str) -> list[str]:
    """Every folder `path` is _under (itself included), ~its depth: _under(path, x) for
    each x is then a set look-up instead of a scan."""
    return [path] + [path[:i] for i, c in enumerate(path) if c == "/"]


def _decides(f: Finding, row: ResultRow, result_paths: set[str], own: Sequence[str] = (),
             owned: bool = False) -> bool:
    """`own`: the result's folders outside results/; `owned`: `f` lies in some result's."""
    path, sdir = f.path, row.path
    if _under(path, sdir) or any(_under(path, folder) for folder in own):
        return True
    if owned:
        return False  # another result's measurements or compliance folder
    bench_dir = sdir.rsplit("/", 1)[0]
    system_dir = bench_dir.rsplit("/", 1)[0]
    results_dir = system_dir.rsplit("/", 1)[0]
    submitter_dir = results_dir.rsplit("/", 1)[0]
    if _under(path, bench_dir):
        # benchmark-level (a missing or unknown scenario), unless it is another result's own
        return result_paths.isdisjoint(_folders(path))
    if path == system_dir or path == f"{submitter_dir}/systems/{row.system}.json":
        return True
    return _under(path, submitter_dir) and not _under(path, results_dir) and not path.startswith(
        f"{submitter_dir}/systems/"
    )


def assign_verdicts(findings: list[Finding], results: list[ResultRow],
                    own_folders: Mapping[str, Sequence[str]] | None = None) -> None:
    """Fill `valid` and `reasons` of every result row from the error findings.

    `own_folders`: result path -> its folders outside results/ (v5.x's measurements/ and
    compliance/ trees), which decide that result alone."""
    errors = [f for f in findings if f.severity == "error"]
    result_paths = {r.path for r in results}
    own_folders = own_folders or {}
    owned_folders = {folder for folders in own_folders.values() for folder in folders}
    owned = {i for i, f in enumerate(errors) if not owned_folders.isdisjoint(_folders(f.path))}
    # Each row tests only the errors that can decide it (every result against every error
    # was 0.2 s of a 200-result tree): those under its benchmark folder, at its system's
    # two paths, or in its submitter folder outside results/ — a superset of _decides.
    under: dict[str, list[int]] = {}
    at: dict[str, list[int]] = {}
    for index, f in enumerate(errors):
        at.setdefault(f.path, []).append(index)
        for folder in _folders(f.path):
            under.setdefault(folder, []).append(index)
    outside_results: dict[tuple[str, str], set[int]] = {}
    for row in results:
        if not row.path:
            row.valid, row.reasons = True, []
            continue
        bench_dir = row.path.rsplit("/", 1)[0]
        system_dir = bench_dir.rsplit("/", 1)[0]
        results_dir = system_dir.rsplit("/", 1)[0]
        submitter_dir = results_dir.rsplit("/", 1)[0]
        key = (submitter_dir, results_dir)
        if key not in outside_results:
            outside_results[key] = set(under.get(submitter_dir, ())) - set(under.get(results_dir, ()))
        own = own_folders.get(row.path, ())
        candidates = set(under.get(bench_dir, ())) | set(at.get(system_dir, ())) | set(
            at.get(f"{submitter_dir}/systems/{row.system}.json", ())
        ) | outside_results[key] | {i for folder in own for i in under.get(folder, ())}
        deciding = [errors[i] for i in sorted(candidates) if _decides(errors[i], row, result_paths, own, i in owned)]
        row.valid = not deciding
        row.reasons = [f.as_dict() for f in deciding]
