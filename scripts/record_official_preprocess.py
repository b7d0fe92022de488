"""Record what the official preprocess_submission.py leaves on each case of tests/test_preprocess_official.py.

    python scripts/record_official_preprocess.py CHECKOUT [--python PY] [--commit SHA]

CHECKOUT is a mlcommons/inference checkout (outside this project); PY the interpreter to
run its tools/submission/preprocess_submission.py with (default: this one). Each case that
tests/test_preprocess_official.py builds (`build(case, root)`, `CASES` with their options)
is built in a temporary folder and preprocessed there with
`preprocess_submission.py --input IN --output OUT --version v6.0 OPTIONS`; what it produced
is written to tests/data/preprocess/official_results.json: per case the options used, its
exit code (and where it crashed, if it did), the sorted relative paths of OUT with each
file's sha256, the JSON of the files it wrote itself (not byte copies of an input file),
its WARNING lines, and the official checker's verdict on OUT
(tools/submission/submission_checker/main.py --input OUT --version v6.0).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from mlperf_ops.check.official import _entry_point, checkout_commit, per_result_verdicts  # noqa: E402
from tests.test_preprocess_official import CASES, RECORDED, ROUND, build, round_of, tree_listing  # noqa: E402

SCRIPT = "tools/submission/preprocess_submission.py"


def _crash(output: str, base: str) -> str | None:
    """'file:line: ExceptionType: message' of the last frame of a traceback, or None."""
    if "Traceback (most recent call last)" not in output:
        return None
    tail = output[output.rindex("Traceback (most recent call last)"):].splitlines()
    frames = [m for m in (re.search(r'File "([^"]+)", line (\d+)', line) for line in tail) if m]
    where = f"{Path(frames[-1].group(1)).name}:{frames[-1].group(2)}" if frames else "?"
    return f"{where}: {tail[-1].strip()}".replace(base, "")


def record_case(case: str, checkout: Path, python: str) -> dict[str, object]:
    options = CASES[case][2]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = build(case, Path(tmp) / "in"), Path(tmp) / "out"
        inputs = set(tree_listing(src).values())
        command = [python, str(checkout / SCRIPT), "--input", str(src), "--output", str(out),
                   "--version", round_of(case), *options]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=checkout / "tools" / "submission",
                              check=False)
        output = proc.stdout + proc.stderr
        base = tmp + "/"
        files = tree_listing(out) if out.is_dir() else {}
        written = {}
        for rel, digest in files.items():
            if digest != "<dir>" and digest not in inputs:
                written[rel] = json.loads((out / rel).read_text("utf-8"))  # only systems/<id>.json so far
        warnings = [line.split("] ", 1)[1].replace(base, "") for line in output.splitlines()
                    if "preprocess_submission.py:" in line and " WARNING] " in line]
        verdict: dict[str, object] = {}
        if out.is_dir():
            check = [python, str(_entry_point(checkout)), "--input", str(out), "--version", round_of(case),
                     "--csv", "/dev/null"]
            checked = subprocess.run(check, capture_output=True, text=True, cwd=checkout, check=False)
            log = checked.stdout + checked.stderr
            verdict = {"exit_code": checked.returncode,
                       "crashed": _crash(log, base),
                       "errors": len([line for line in log.splitlines() if " ERROR]" in line]),
                       "results": dict(sorted(per_result_verdicts(log, out).items()))}
    return {"what": CASES[case][3], "round": round_of(case), "options": options, "exit_code": proc.returncode,
            "crashed": _crash(output, base), "warnings": warnings, "files": files, "written": written,
            "official_checker": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--commit", default="", help="the checkout's commit, when `git rev-parse` cannot tell")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    commit = checkout_commit(checkout, args.commit)
    if not commit:
        raise SystemExit(f"{checkout} is no git checkout: name its commit with --commit")
    doc = {
        "official": {"repo": "mlcommons/inference", "commit": commit,
                     "command": f"{SCRIPT} --input IN --output OUT --version ROUND OPTIONS (each case says its round)"},
        "cases": {case: record_case(case, checkout, args.python) for case in sorted(CASES)},
    }
    RECORDED.parent.mkdir(parents=True, exist_ok=True)
    RECORDED.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", "utf-8")
    for case, result in doc["cases"].items():
        print(f"{case}: exit {result['exit_code']}, {len(result['files'])} files"
              + (f", CRASHED {result['crashed']}" if result["crashed"] else ""))


if __name__ == "__main__":
    main()
