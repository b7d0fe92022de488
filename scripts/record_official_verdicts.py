"""Record the official checker's per-result verdicts next to each real tree of the corpus.

    python scripts/record_official_verdicts.py CHECKOUT [--python PY] [TREE...]

CHECKOUT is a mlcommons/inference checkout (outside this project); PY the interpreter
to run it with (it needs PyYAML). Each tree under tests/data/real_trees/ gets an
official_verdicts.json: the checker's commit, the command and one verdict per result
(with the ERROR lines that name that result), which tests/test_check_real_trees.py
holds our checker to.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--commit", default="", help="the checkout's commit (when it is no git repo)")
    parser.add_argument("trees", nargs="*", type=Path)
    args = parser.parse_args()
    trees = args.trees or sorted(p for p in CORPUS.iterdir() if (p / "tree").is_dir())
    for tree in trees:
        doc = record(args.checkout, args.python, tree, args.commit)
        (tree / "official_verdicts.json").write_text(json.dumps(doc, indent=1) + "\n")
        ok = sum(1 for r in doc["results"] if r["valid"])  # type: ignore[union-attr]
        print(f"{tree.name}: {ok} accepted, {len(doc['results']) - ok} refused")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
