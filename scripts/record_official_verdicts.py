"""Record the official checker's per-result verdicts next to each real tree of the corpus.

    python scripts/record_official_verdicts.py CHECKOUT [--python PY] [TREE...]

CHECKOUT is a mlcommons/inference checkout (outside this project); PY the interpreter
to run it with (it needs PyYAML). Each tree under tests/data/real_trees/ gets an
official_verdicts.json: the checker's commit, the command and one verdict per result
(with the ERROR lines that name that result), which tests/test_check_real_trees.py
holds our checker to.

    python scripts/record_official_verdicts.py CHECKOUT --variants MODULE

records the official checker's verdicts on each variant of a real excerpt that
tests/MODULE.py builds, into the file that module names RECORDED. Such a module has
VARIANTS (name -> change), build(variant, root) -> tree, and may have CHECKER_ARGS (extra
arguments of the official checker) and CHANGED (a result whose summary-CSV accuracy
column is recorded too). test_check_power (a power submission; --skip-power-check, since
its analyser files are placeholders) and test_check_accuracy_txt are two.

    python scripts/record_official_verdicts.py CHECKOUT --logs

records, in tests/data/detail_logs/cases.json, what the official checker's LoadGen log
reader (submission_checker/parsers/loadgen_parser.py) does with each odd detail log
there: refuses it, or reads which keys with which first values.
tests/test_loadgen_log_official.py holds our reader to that.

    python scripts/record_official_verdicts.py CHECKOUT --endpoints

records, in tests/data/endpoints_logs/cases.json, what the official checker's reader of
the endpoints harness's files (submission_checker/parsers/endpoints_parser.py) reads of
each case there, in both modes; tests/test_endpoints_log_official.py holds ours to that.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlperf_ops.check.official import _entry_point, checkout_commit, per_result_verdicts

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_trees"


def record(checkout: Path, python: str, tree: Path, commit: str = "") -> dict[str, object]:
    round_name = json.loads((tree / "official_verdicts.json").read_text())["round"] if (
        tree / "official_verdicts.json").is_file() else tree.name.rsplit("_", 1)[-1]
    data = tree / "tree"
    command = [python, str(_entry_point(checkout)), "--input", str(data.resolve()),
               "--version", round_name, "--csv", "/dev/null"]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=checkout, check=False)
    output = proc.stdout + proc.stderr
    if "Traceback (most recent call last)" in output:
        raise SystemExit(f"the official checker crashed on {tree}:\n{output[-3000:]}")
    verdicts = per_result_verdicts(output, data)
    base = str(data.resolve()) + "/"
    results = []
    for key, valid in sorted(verdicts.items()):
        errors = sorted({
            line.split("] ", 1)[-1].replace(base, "")
            for line in output.splitlines()
            if " ERROR]" in line and (base + key + "/") in line and "NoResults" not in line
        })
        results.append({"result": key, "valid": valid, "errors": errors})
    commit = checkout_commit(checkout, commit)
    return {
        "round": round_name,
        "checker": {"repo": "mlcommons/inference", "commit": commit or "see SOURCE.md",
                    "command": f"submission_checker/main.py --input tree --version {round_name}",
                    "exit_code": proc.returncode},
        "results": results,
    }


def _verdicts_with_errors(output: str, data: Path) -> list[dict[str, object]]:
    """One entry per result: its verdict and the ERROR lines that name it (paths relative)."""
    verdicts = per_result_verdicts(output, data)
    base = str(data.resolve()) + "/"
    return [{"result": key, "valid": valid,
             "errors": sorted({line.split("] ", 1)[-1].replace(base, "") for line in output.splitlines()
                               if " ERROR]" in line and (base + key + "/") in line and "NoResults" not in line})}
            for key, valid in sorted(verdicts.items())]


def record_variants(module_name: str, checkout: Path, python: str, commit: str = "") -> tuple[Path, dict[str, object]]:
    """(where, what): the official verdicts on each variant that tests/<module_name>.py
    builds, its summary CSV of each (tests/test_check_variants_csv.py holds ours to it), and
    the accuracy column that CSV gives the result each variant changes (CHANGED, where the
    module names one)."""
    import csv
    import importlib
    import tempfile

    sys.path.insert(0, str(CORPUS.parents[2]))
    module = importlib.import_module(f"tests.{module_name}")
    checker_args: list[str] = list(getattr(module, "CHECKER_ARGS", []))
    round_name: str = getattr(module, "ROUND", "v6.0")
    variants: dict[str, object] = {}
    column: dict[str, str] = {}
    csvs: dict[str, str] = {}
    for variant in sorted(module.VARIANTS):
        with tempfile.TemporaryDirectory() as work:
            data = module.build(variant, Path(work) / "tree").resolve()
            out = Path(work) / "summary.csv"
            proc = subprocess.run([python, str(_entry_point(checkout)), "--input", str(data), "--version", round_name,
                                   *checker_args, "--csv", str(out)],
                                  capture_output=True, text=True, cwd=checkout, check=False)
            output = proc.stdout + proc.stderr
            if "Traceback (most recent call last)" in output:
                raise SystemExit(f"the official checker crashed on variant {variant}:\n{output[-3000:]}")
            variants[variant] = _verdicts_with_errors(output, data)
            if out.is_file():  # its summary CSV, the tree's own path written "tree" (its Location column)
                csvs[variant] = out.read_text(encoding="utf-8").replace(str(data), "tree")
            changed = getattr(module, "CHANGED", None)
            if changed and out.is_file():
                for row in csv.DictReader(out.open(encoding="utf-8")):
                    if row["Location"].endswith(changed + "/performance/run_1"):
                        column[variant] = row["Accuracy"]
    commit = checkout_commit(checkout, commit)
    doc: dict[str, object] = {
        "round": round_name,
        "checker": {"repo": "mlcommons/inference", "commit": commit or "see NOTE.md",
                    "command": " ".join(["submission_checker/main.py --input tree --version", round_name, *checker_args,
                                         "--csv FILE"])},
        "variants": variants}
    if column:
        doc["accuracy_column"] = column
    doc["summary_csv"] = csvs
    return Path(module.RECORDED), doc


LOG_CASES = CORPUS.parent / "detail_logs" / "cases.json"

# A value as the recorders write it (str(key) for keys that are not strings, repr of
# values that JSON cannot hold); in the scripts run by the checkout's interpreter, which
# cannot import this project (tests/support/official_reader.py is its twin for the tests).
_PLAIN = """
def plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return {"repr": repr(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value
"""

# Run by the checkout's interpreter: each case's bytes to a file, read by the official
# reader as the checker reads a detail log; its outcome as JSON (str(key) for keys that
# are not strings, repr of values that JSON cannot hold).
_READ_LOGS = """
import json, math, sys, tempfile, os
sys.path.insert(0, sys.argv[1])
from submission_checker.parsers.loadgen_parser import LoadgenParser
""" + _PLAIN + """
out = []
for case in json.load(sys.stdin):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(case.encode("latin-1"))
    try:
        log = LoadgenParser(f.name)
    except BaseException as error:
        out.append({"read": False, "why": type(error).__name__ + ": " + str(error)[:120]})
    else:
        out.append({"read": True, "first_values": {str(k): plain(v[0].get("value")) for k, v in log.messages.items()}})
    finally:
        os.unlink(f.name)
json.dump(out, sys.stdout)
"""


def record_reader(cases: Path, script: str, inputs: Callable[[dict[str, Any]], Any], reader: str,
                  checkout: Path, python: str, commit: str = "") -> int:
    """What an official reader (`script`, run by the checkout's interpreter) makes of the
    `inputs` of each case in the file `cases`, written into that file as `official`."""
    doc = json.loads(cases.read_text())
    proc = subprocess.run([python, "-c", script, str(checkout / "tools" / "submission")],
                          input=json.dumps([inputs(case) for case in doc["cases"]]),
                          capture_output=True, text=True, check=True)
    for case, outcome in zip(doc["cases"], json.loads(proc.stdout)):
        case["official"] = outcome
    doc["checker"] = {"repo": "mlcommons/inference", "commit": checkout_commit(checkout, commit),
                      "reader": f"tools/submission/submission_checker/parsers/{reader}"}
    cases.write_text(json.dumps(doc, indent=1) + "\n")
    return len(doc["cases"])


ENDPOINTS_CASES = CORPUS.parent / "endpoints_logs" / "cases.json"
ENDPOINTS_FILES = {"result_summary": "performance/result_summary.json",
                   "accuracy_results": "accuracy/accuracy_results.json", "config": "config.yaml"}

# Run by the checkout's interpreter: each case's files into a scenario folder, read by the
# official EndpointsParser in both modes as its loader reads them; the first value of
# each key it read (repr of values that JSON cannot hold), or the error it raised.
_READ_ENDPOINTS = """
import json, math, os, shutil, sys, tempfile
sys.path.insert(0, sys.argv[1])
from submission_checker.parsers.endpoints_parser import EndpointsParser
""" + _PLAIN + """
out = []
for files in json.load(sys.stdin):
    folder = tempfile.mkdtemp()
    for name, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
    outcome = {}
    for mode in ("performance", "accuracy"):
        try:
            log = EndpointsParser(folder, log_type=mode)
        except BaseException as error:
            outcome[mode] = {"read": False, "why": type(error).__name__ + ": " + str(error)[:120]}
        else:
            outcome[mode] = {"read": True, "first_values": {str(k): plain(v[0].get("value")) for k, v in log.messages.items()}}
    shutil.rmtree(folder)
    out.append(outcome)
json.dump(out, sys.stdout)
"""


def endpoints_case_files(case: dict[str, str]) -> dict[str, str]:
    """A case's files by their path in the scenario folder: its own texts, or a published
    result's files read from the corpus."""
    if "corpus_result" in case:
        folder = CORPUS / case["corpus_result"]
        return {path: (folder / path).read_text("utf-8") for path in ENDPOINTS_FILES.values() if (folder / path).is_file()}
    return {path: case[name] for name, path in ENDPOINTS_FILES.items() if name in case}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--commit", default="", help="the checkout's commit (when it is no git repo)")
    parser.add_argument("--variants", metavar="MODULE", help="record the variants of tests/MODULE.py instead of the corpus")
    parser.add_argument("--logs", action="store_true", help="record tests/data/detail_logs/ instead of the corpus")
    parser.add_argument("--endpoints", action="store_true",
                        help="record tests/data/endpoints_logs/ (the official endpoints reader) instead of the corpus")
    parser.add_argument("trees", nargs="*", type=Path)
    args = parser.parse_args()
    if args.endpoints:
        count = record_reader(ENDPOINTS_CASES, _READ_ENDPOINTS, endpoints_case_files,
                              "endpoints_parser.py (EndpointsParser)", args.checkout, args.python, args.commit)
        print(f"{ENDPOINTS_CASES}: {count} cases")
        return
    if args.logs:
        count = record_reader(LOG_CASES, _READ_LOGS, lambda case: case["bytes"], "loadgen_parser.py (LoadgenParser)",
                              args.checkout, args.python, args.commit)
        print(f"{LOG_CASES}: {count} cases")
        return
    if args.variants:
        out, doc = record_variants(args.variants, args.checkout, args.python, args.commit)
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{out}: {len(doc['variants'])} variants")  # type: ignore[arg-type]
        return
    trees = args.trees or sorted(p for p in CORPUS.iterdir() if (p / "tree").is_dir())
    for tree in trees:
        doc = record(args.checkout, args.python, tree, args.commit)
        (tree / "official_verdicts.json").write_text(json.dumps(doc, indent=1) + "\n")
        ok = sum(1 for r in doc["results"] if r["valid"])  # type: ignore[union-attr]
        print(f"{tree.name}: {ok} accepted, {len(doc['results']) - ok} refused")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
