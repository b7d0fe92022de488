"""Names in an MLPerf Inference submission tree: the one place they are spelled.

    <division>/<submitter>/
        systems/<system>.json
        results/<system>/<benchmark>/<scenario>/
            user.conf, measurements.json, README.md
            performance/run_1/   mlperf_log_summary.txt, mlperf_log_detail.txt (+ power/, ranging/)
            accuracy/            the logs, mlperf_log_accuracy.json, accuracy.txt
            TEST01/ TEST04/ …    performance/run_1/, accuracy/, verify_*.txt
        src/ (or code/)          the harness source
        calibration.md, documentation/
    SMOKE_TREE.txt               at the top of a tree made with short runs: never submittable
    mlperf_ops_provenance.json   which records and images made the tree

assemble writes these names; check, truncate, preprocess, pack, report and upload read
them. LoadGen's own file names are here too, because the ledger keeps a run's output
under the same names.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlperf_ops.core.loadgen_log import log_lines

DIVISIONS = ("closed", "open", "network")

# LoadGen's output
SUMMARY = "mlperf_log_summary.txt"
DETAIL = "mlperf_log_detail.txt"
ACCURACY_LOG = "mlperf_log_accuracy.json"
TRACE = "mlperf_log_trace.json"
LOG_FILES = (DETAIL, SUMMARY)
# what the accuracy script writes, in the form the round's checker reads
ACCURACY_TXT = "accuracy.txt"
ACCURACY_FILES = (*LOG_FILES, ACCURACY_LOG, ACCURACY_TXT)

# a scenario's folder
USER_CONF = "user.conf"
MEASUREMENTS = "measurements.json"
SCENARIO_README = "README.md"
PERFORMANCE_RUN = ("performance", "run_1")
ACCURACY_DIR = "accuracy"
POWER_DIRS = ("power", "ranging")
# A result of the MLCommons endpoints harness (v6.1 allows it for some benchmarks): no
# LoadGen logs, its measurements in these files of the scenario's folder
# (tools/submission/submission_checker/parsers/endpoints_parser.py at b66003e1)
ENDPOINTS_FILES = ("performance/result_summary.json", "accuracy/accuracy_results.json")
ENDPOINTS_CONFIG_FILES = ("config.yaml", "config.yml")  # the harness's configuration: the first there


def is_endpoints_result(scenario_dir: Path) -> bool:
    """Whether a result's folder holds the endpoints harness's files and neither LoadGen
    detail log: the official loader then reads it in that format."""
    return (not (scenario_dir / "performance" / "run_1" / DETAIL).is_file()
            and not (scenario_dir / ACCURACY_DIR / DETAIL).is_file()
            and any((scenario_dir / name).is_file() for name in ENDPOINTS_FILES))

# a submitter's folder
SYSTEMS = "systems"
RESULTS = "results"
SOURCE = "src"
CALIBRATION = "calibration.md"
DOCUMENTATION = "documentation"

# the tree's top
SMOKE_MARKER = "SMOKE_TREE.txt"
PROVENANCE = "mlperf_ops_provenance.json"

# A truncated accuracy log (the official truncate_accuracy_log.py's format): at most
# 10 KiB, its first and last 4 KiB around a separator, and accuracy.txt carrying a
# `hash=<sha256 of the original log>` line.
MAX_ACCURACY_LOG_SIZE = 10 * 1024
VIEWABLE_SIZE = 4096
SEPARATOR = b"\n\n...\n\n"
_HASH_LINE = re.compile(r"^hash=([\w\d]+)$")


def hash_lines(accuracy_txt: Path) -> list[str]:
    """The values of `hash=` lines in accuracy.txt (empty if none or unreadable)."""
    try:
        text = accuracy_txt.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return hash_values(text)


def hash_values(text: str) -> list[str]:
    """The values of `hash=` lines in the text of an accuracy.txt."""
    if "hash=" not in text:
        return []
    # the file's lines as the official reader has them (log_lines: not str.splitlines())
    return [m.group(1) for m in map(_HASH_LINE.match, log_lines(text)) if m]
