"""Record what the official accuracy-log truncation does to each case of tests/test_truncate_official.py.

    python scripts/record_official_truncation.py CHECKOUT [--python PY] [--commit SHA]

(--commit names the checkout's commit when it is no git repository.)

CHECKOUT is a checkout of mlcommons/inference. For every case in CASES, the case is
built (`build(case, root)`) in a temporary folder and the official
`tools/submission/truncate_accuracy_log.py --input TREE --submitter ORG --backup DIR`
is run on it (DIR outside the tree; as many runs as the case says, same DIR), under
PYTHONUTF8=1 so that the script's locale-dependent `open(..., "r")` reads UTF-8 on any
machine. Written to tests/data/truncation/official_results.json, per case: the input
tree and the resulting tree (relative path -> sha256 and size of every file), the full
text of each accuracy.txt after the run, the first and last 64 bytes (hex) of each
accuracy log the run changed, the exit code and the end of the script's output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlperf_ops.check.official import checkout_commit  # noqa: E402
from tests.test_truncate_official import CASES, LOG, RESULTS, TXT, build, snapshot  # noqa: E402

SCRIPT = Path("tools") / "submission" / "truncate_accuracy_log.py"


def record_case(case: str, checkout: Path, python: str) -> dict:
    submitter, runs, what = CASES[case]
    with tempfile.TemporaryDirectory() as tmp:
        root, backup = Path(tmp) / "tree", Path(tmp) / "backup"
        build(case, root)
        before = snapshot(root)
        env = {**os.environ, "PYTHONUTF8": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        codes, output = [], ""
        for _ in range(runs):
            proc = subprocess.run(
                [python, "-B", str(checkout / SCRIPT), "--input", str(root), "--submitter", submitter,
                 "--backup", str(backup)],
                capture_output=True, text=True, env=env, check=False)
            codes.append(proc.returncode)
            output += (proc.stdout + proc.stderr).replace(tmp, "<tmp>").replace(str(checkout), "CHECKOUT")
        after = snapshot(root)
        texts = {rel: (root / rel).read_bytes().decode("utf-8", "backslashreplace")
                 for rel in after if rel.endswith("/" + TXT)}
        cut = {}
        for rel in after:
            if rel.endswith("/" + LOG) and after[rel] != before.get(rel):
                data = (root / rel).read_bytes()
                cut[rel] = {"first64": data[:64].hex(), "last64": data[-64:].hex()}
    return {"what": what, "submitter": submitter, "runs": runs,
            "exit_code": max(codes, key=abs), "output_tail": output[-2000:],
            "input": before, "files": after, "accuracy_txt": texts, "changed_logs": cut}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--commit", help="the checkout's commit, when `git rev-parse` cannot tell")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    commit = checkout_commit(checkout, args.commit or "")
    if not commit:
        raise SystemExit(f"{checkout} is no git checkout: name its commit with --commit")
    doc = {
        "official": {"repository": "mlcommons/inference", "commit": commit, "script": SCRIPT.as_posix(),
                     "command": "truncate_accuracy_log.py --input TREE --submitter ORG --backup DIR (PYTHONUTF8=1)"},
        "python": subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=False).stdout.strip(),
        "cases": {case: record_case(case, checkout, args.python) for case in sorted(CASES)},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    for case, rec in doc["cases"].items():
        print(f"{case}: exit {rec['exit_code']}, {len(rec['changed_logs'])} log(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
