"""One verdict per result, as the official checker gives one (its Results / NoResults lines).

A result is refused when an error finding lies in its scenario folder, or in something
the official procedure checks again for every result it loads: its benchmark folder (the
scenario list of the benchmark), its system (results/<system>/ and systems/<system>.json)
and its submitter folder outside results/ (src/, model_mapping.json). Errors elsewhere
(the tree root, another result) never decide it.
"""

from __future__ import annotations

from mlperf_ops.check.findings import Finding, ResultRow


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def _decides(f: Finding, row: ResultRow, result_paths: set[str]) -> bool:
    path, sdir = f.path, row.path
    if _under(path, sdir):
        return True
    bench_dir = sdir.rsplit("/", 1)[0]
    system_dir = bench_dir.rsplit("/", 1)[0]
    results_dir = system_dir.rsplit("/", 1)[0]
    submitter_dir = results_dir.rsplit("/", 1)[0]
    if _under(path, bench_dir):
        # benchmark-level (a missing or unknown scenario), unless it is another result's own
        return not any(_under(path, other) for other in result_paths)
    if path == system_dir or path == f"{submitter_dir}/systems/{row.system}.json":
        return True
    return _under(path, submitter_dir) and not _under(path, results_dir) and not path.startswith(
        f"{submitter_dir}/systems/"
    )


def assign_verdicts(findings: list[Finding], results: list[ResultRow]) -> None:
    """Fill `valid` and `reasons` of every result row from the error findings."""
    errors = [f for f in findings if f.severity == "error"]
    result_paths = {r.path for r in results}
    for row in results:
        deciding = [f for f in errors if row.path and _decides(f, row, result_paths)]
        row.valid = not deciding
        row.reasons = [f.as_dict() for f in deciding]
