"""Record the official checker's per-result verdicts next to each real tree of the corpus.

    python scripts/record_official_verdicts.py CHECKOUT [--python PY] [TREE...]

CHECKOUT is a mlcommons/inference checkout (outside this project); PY the interpreter
to run it with (it needs PyYAML). Each tree under tests/data/real_trees/ gets an
official_verdicts.json: the checker's commit, the command and one verdict per result
(with the ERROR lines that name that result), which tests/test_check_real_trees.py
holds our checker to.

    python scripts/record_official_verdicts.py CHECKOUT --power

records tests/data/power/official_verdicts.json instead: the official checker (with
--skip-power-check: the analyser files there are placeholders) on each power variant
that tests/test_check_power.py builds from the Lenovo excerpt.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from mlperf_ops.check.official import _entry_point, per_result_verdicts

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
    commit = commit or subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                                      capture_output=True, text=True, check=False).stdout.strip()
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


def record_power(checkout: Path, python: str, commit: str = "") -> dict[str, object]:
    """The official verdicts on each power variant of tests/test_check_power.py."""
    import tempfile

    sys.path.insert(0, str(CORPUS.parents[2]))
    from tests.test_check_power import VARIANTS, build

    variants: dict[str, object] = {}
    for variant in sorted(VARIANTS):
        with tempfile.TemporaryDirectory() as work:
            data = build(variant, Path(work) / "tree").resolve()
            proc = subprocess.run([python, str(_entry_point(checkout)), "--input", str(data), "--version", "v6.0",
                                   "--skip-power-check", "--csv", "/dev/null"],
                                  capture_output=True, text=True, cwd=checkout, check=False)
            output = proc.stdout + proc.stderr
            if "Traceback (most recent call last)" in output:
                raise SystemExit(f"the official checker crashed on power variant {variant}:\n{output[-3000:]}")
            variants[variant] = _verdicts_with_errors(output, data)
    commit = commit or subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                                      capture_output=True, text=True, check=False).stdout.strip()
    return {"round": "v6.0",
            "checker": {"repo": "mlcommons/inference", "commit": commit or "see NOTE.md",
                        "command": "submission_checker/main.py --input tree --version v6.0 --skip-power-check "
                                   "--csv /dev/null"},
            "variants": variants}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--commit", default="", help="the checkout's commit (when it is no git repo)")
    parser.add_argument("--power", action="store_true", help="record tests/data/power/ instead of the corpus")
    parser.add_argument("trees", nargs="*", type=Path)
    args = parser.parse_args()
    if args.power:
        doc = record_power(args.checkout, args.python, args.commit)
        out = CORPUS.parent / "power" / "official_verdicts.json"
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
