"""Verify compliance (audit) runs natively: TEST01, TEST04 and TEST06.

Each function reads LoadGen logs, decides, and returns a verdict holding the texts to
write into the submission tree (`verify_accuracy.txt`, `verify_performance.txt`, ...).
Nothing here writes into the tree or prints. The pass criteria and the lines the
submission checker greps for are facts read from mlcommons/inference at commit
b66003e10e2db4b8c36a448b0545ec90fcc6e9e9:

- compliance/TEST01/verify_accuracy.py: accuracy-run responses are keyed by qsl_idx;
  the audit log passes when no matched response differs and at least one matched.
  (The official script compares only the first element of a chosen dtype; this
  module compares the whole response bytes, which is stricter.)
- compliance/TEST01/README.md + create_accuracy_baseline.sh + the checker's
  checks/compliance_check.py: when the responses differ, the audit passes if the
  accuracy of the accuracy run restricted to the audited samples
  (`baseline_accuracy.txt`) and of the audit log (`compliance_accuracy.txt`) differ by at
  most `delta_perc` percent, relative: 1 % by default, 0.1 % for "99.9" benchmarks.
- compliance/TEST01/verify_performance.py: score = detail key per scenario
  (RESULT_FIELD below); both runs VALID; same scenario; Server target latency equal;
  pass if within +-10 % (+-20 % when a SingleStream score <= 200000 ns or a MultiStream
  score <= 1600000 ns).
- compliance/TEST04/verify_performance.py: scores from the summary (Offline samples/s,
  Server completed samples/s, SingleStream/MultiStream 1e9 / early-stopping latency);
  pass if audit < reference * (1 + threshold); threshold 10 %, 20 % when the
  SingleStream reference score <= 200000 or the MultiStream one <= 1600000 (the same
  numbers as TEST01, here applied to the per-second score).
- compliance/TEST06/run_verification.py and the checker: lines
  `First token check pass: True|Skipped`, `EOS check pass: True`,
  `Sample length check pass: True`.
- The checker (checks/compliance_check.py) reads `TEST PASS` from
  verify_accuracy.txt (a stripped line equal to it) and verify_performance.txt.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.loadgen_log import DetailLog, parse_detail

TEST_PASS = "TEST PASS"
TEST_FAIL = "TEST FAIL"

# compliance/TEST01/verify_performance.py RESULT_FIELD
TEST01_RESULT_FIELD = {
    "Offline": "result_samples_per_second",
    "SingleStream": "early_stopping_latency_ss",
    "MultiStream": "early_stopping_latency_ms",
    "Server": "result_completed_samples_per_sec",
}
DEFAULT_THRESHOLD = 0.10
RELAXED_THRESHOLD = 0.20
RELAXED_LIMIT = {"SingleStream": 200_000.0, "MultiStream": 1_600_000.0}

# compliance/TEST04/verify_performance.py: summary lines giving each scenario's score.
_TEST04_SCORE_LINE = {
    "SingleStream": re.compile(r".*Early stopping (90th|90\.0th|99\.9th) percentile estimate"),
    "MultiStream": re.compile(r".*Early stopping (99th|99\.0th) percentile estimate"),
    "Server": re.compile(r"Completed samples per second"),
    "Offline": re.compile(r"Samples per second"),
}
_LATENCY_SCORED = ("SingleStream", "MultiStream")


@dataclass(frozen=True)
class AccuracyScore:
    """An accuracy script's result: the number compared and the text written to a file."""

    value: float
    text: str


AccuracyFn = Callable[[Path], "float | AccuracyScore"]


def _as_score(result: float | AccuracyScore) -> AccuracyScore:
    if isinstance(result, AccuracyScore):
        return result
    # The resnet accuracy script's form, which the checker's "acc" pattern reads.
    return AccuracyScore(float(result), f"accuracy={float(result):.3f}%\n")


@dataclass(frozen=True)
class PerformanceCheck:
    passed: bool
    scenario: str | None
    metric: str
    reference_score: float | None
    audit_score: float | None
    threshold: float
    text: str  # verify_performance.txt
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseComparison:
    """Audit responses vs the accuracy run's, by qsl_idx (bit-exact)."""

    reference_entries: int
    reference_duplicate_keys: int
    reference_data_mismatch: int  # a sample logged twice in the accuracy run with different data
    audit_entries: int
    matched: int
    mismatched: int
    missing: int  # audited qsl_idx absent from the accuracy run
    mismatched_examples: tuple[int, ...] = ()

    @property
    def passed(self) -> bool:
        return self.mismatched == 0 and self.matched > 0


@dataclass(frozen=True)
class FallbackAccuracy:
    """The non-deterministic path: accuracy of the audited samples in both runs."""

    baseline: AccuracyScore
    compliance: AccuracyScore
    delta_perc: float
    allowed_delta_perc: float

    @property
    def passed(self) -> bool:
        return self.baseline.value != 0 and self.compliance.value != 0 and self.delta_perc <= self.allowed_delta_perc


@dataclass(frozen=True)
class Test01Verdict:
    passed: bool
    responses: ResponseComparison
    fallback: FallbackAccuracy | None
    performance: PerformanceCheck
    verify_accuracy_text: str
    problems: tuple[str, ...] = ()

    @property
    def accuracy_passed(self) -> bool:
        return self.responses.passed or (self.fallback is not None and self.fallback.passed)

    @property
    def verify_performance_text(self) -> str:
        return self.performance.text

    def files(self) -> dict[str, str]:
        """Relative path under <scenario>/TEST01/ -> content."""
        out = {"verify_accuracy.txt": self.verify_accuracy_text, "verify_performance.txt": self.performance.text}
        if self.fallback is not None:
            out["accuracy/baseline_accuracy.txt"] = self.fallback.baseline.text
            out["accuracy/compliance_accuracy.txt"] = self.fallback.compliance.text
        return out


@dataclass(frozen=True)
class Test04Verdict:
    passed: bool
    performance: PerformanceCheck

    @property
    def verify_performance_text(self) -> str:
        return self.performance.text

    def files(self) -> dict[str, str]:
        return {"verify_performance.txt": self.performance.text}


@dataclass(frozen=True)
class Test06Verdict:
    passed: bool
    first_token: bool | None  # None: skipped (Offline logs no first token)
    eos: bool
    sample_length: bool
    samples: int
    verify_accuracy_text: str
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def files(self) -> dict[str, str]:
        return {"verify_accuracy.txt": self.verify_accuracy_text}


# --------------------------------------------------------------------------- logs


def _load_accuracy_log(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"accuracy log not found: {path}", hint="verification needs the untruncated log") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path} is not a LoadGen accuracy log: {exc}",
            hint="was it truncated already? verify before truncating",
        ) from exc
    if not isinstance(entries, list):
        raise UsageError(f"{path} is not a LoadGen accuracy log: top level is not a list")
    for number, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("qsl_idx"), int) and isinstance(entry.get("data"), str)):
            raise UsageError(f"{path}: entry {number} lacks an integer qsl_idx and a hex data string")
    return entries


def _detail(path: Path) -> DetailLog:
    if not path.is_file():
        raise UsageError(f"LoadGen detail log not found: {path}")
    return parse_detail(path)


def _summary_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UsageError(f"LoadGen summary not found: {path}")
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def _summary_validity(path: Path) -> str | None:
    for line in _summary_lines(path):
        if line.startswith("Result is"):
            return line.partition(":")[2].strip()
    return None


# --------------------------------------------------------------------------- TEST01


def compare_responses(reference: list[dict[str, Any]], audit: list[dict[str, Any]]) -> ResponseComparison:
    by_idx: dict[int, str] = {}
    duplicates = data_mismatch = 0
    for entry in reference:
        idx, data = entry["qsl_idx"], entry["data"].lower()
        if idx in by_idx:
            duplicates += 1
            data_mismatch += by_idx[idx] != data
        else:
            by_idx[idx] = data
    matched = mismatched = missing = 0
    examples: list[int] = []
    for entry in audit:
        idx = entry["qsl_idx"]
        if idx not in by_idx:
            missing += 1
            continue
        matched += 1
        if by_idx[idx] != entry["data"].lower():
            mismatched += 1
            if len(examples) < 10:
                examples.append(idx)
    return ResponseComparison(
        reference_entries=len(reference),
        reference_duplicate_keys=duplicates,
        reference_data_mismatch=data_mismatch,
        audit_entries=len(audit),
        matched=matched,
        mismatched=mismatched,
        missing=missing,
        mismatched_examples=tuple(examples),
    )


def _responses_text(cmp: ResponseComparison, fallback: FallbackAccuracy | None) -> str:
    lines = [
        f"num_acc_log_entries = {cmp.reference_entries}",
        f"num_acc_log_duplicate_keys = {cmp.reference_duplicate_keys}",
        f"num_acc_log_data_mismatch = {cmp.reference_data_mismatch}",
        f"num_perf_log_entries = {cmp.audit_entries}",
        f"num_perf_log_qsl_idx_match = {cmp.matched}",
        f"num_perf_log_data_mismatch = {cmp.mismatched}",
        f"num_missing_qsl_idxs = {cmp.missing}",
    ]
    if cmp.mismatched_examples:
        lines.append("first mismatched qsl_idx = " + ", ".join(str(i) for i in cmp.mismatched_examples))
    if fallback is not None:
        lines += [
            f"baseline accuracy (accuracy run, audited samples) = {fallback.baseline.value}",
            f"compliance accuracy (audit run) = {fallback.compliance.value}",
            f"delta = {fallback.delta_perc:.4f}% (allowed {fallback.allowed_delta_perc}%): "
            + ("within" if fallback.passed else "OUTSIDE"),
        ]
    # The deterministic check decides this line; the checker then falls back to the
    # accuracy files on its own, exactly as the official procedure does.
    lines.append(TEST_PASS if cmp.passed else TEST_FAIL)
    return "\n".join(lines) + "\n"


def _fallback(
    reference: list[dict[str, Any]],
    audit: list[dict[str, Any]],
    audit_accuracy_log: Path,
    accuracy_fn: AccuracyFn,
    allowed_delta_perc: float,
) -> FallbackAccuracy:
    audited = {entry["qsl_idx"] for entry in audit}
    baseline_entries = [entry for entry in reference if entry["qsl_idx"] in audited]
    with tempfile.TemporaryDirectory(prefix="mlperf-ops-test01-") as tmp:
        baseline_log = Path(tmp) / "mlperf_log_accuracy_baseline.json"
        baseline_log.write_text(json.dumps(baseline_entries), encoding="utf-8")
        baseline = _as_score(accuracy_fn(baseline_log))
    compliance = _as_score(accuracy_fn(audit_accuracy_log))
    delta = abs(1.0 - baseline.value / compliance.value) * 100.0 if compliance.value else float("inf")
    return FallbackAccuracy(baseline, compliance, delta, allowed_delta_perc)


def default_delta_perc(benchmark: str) -> float:
    """The checker's default when a benchmark has no explicit entry: 0.1 for 99.9 variants, else 1."""
    return 0.1 if "99.9" in benchmark else 1.0


def verify_test01(
    *,
    accuracy_log: Path,
    audit_accuracy_log: Path,
    reference_detail: Path,
    audit_detail: Path,
    reference_summary: Path | None = None,
    audit_summary: Path | None = None,
    accuracy_fn: AccuracyFn | None = None,
    delta_perc: float = 1.0,
) -> Test01Verdict:
    """TEST01: audit responses equal the accuracy run's, and performance within the threshold.

    `accuracy_log` is the accuracy run's untruncated mlperf_log_accuracy.json;
    `audit_accuracy_log` the one the TEST01 run sampled. `accuracy_fn` scores a log
    (needed only when the responses differ, for the fallback comparison).
    """
    reference = _load_accuracy_log(accuracy_log)
    audit = _load_accuracy_log(audit_accuracy_log)
    responses = compare_responses(reference, audit)
    problems: list[str] = []
    fallback: FallbackAccuracy | None = None
    if not responses.passed:
        if responses.matched == 0:
            problems.append("no audited sample appears in the accuracy run's log")
        if accuracy_fn is None:
            problems.append("responses differ and no accuracy script was given for the fallback comparison")
        elif audit:
            fallback = _fallback(reference, audit, audit_accuracy_log, accuracy_fn, delta_perc)
            if not fallback.passed:
                problems.append(
                    f"audited accuracy differs by {fallback.delta_perc:.4f}% (allowed {delta_perc}%)"
                )
    performance = _test01_performance(reference_detail, audit_detail, reference_summary, audit_summary)
    if not performance.passed:
        problems.append("performance: " + performance.text.strip().splitlines()[-1])
    accuracy_ok = responses.passed or (fallback is not None and fallback.passed)
    return Test01Verdict(
        passed=accuracy_ok and performance.passed,
        responses=responses,
        fallback=fallback,
        performance=performance,
        verify_accuracy_text=_responses_text(responses, fallback),
        problems=tuple(problems),
    )


def _validity_problem(name: str, detail: DetailLog, summary: Path | None) -> str | None:
    validity = detail.get("result_validity")
    if summary is not None:
        validity = _summary_validity(summary) or validity
    if validity != "VALID":
        return f"{TEST_FAIL}: Invalid results in {name} run ({validity or 'no result'})"
    return None


def _test01_performance(
    reference_detail: Path, audit_detail: Path, reference_summary: Path | None, audit_summary: Path | None
) -> PerformanceCheck:
    ref, test = _detail(reference_detail), _detail(audit_detail)
    lines = ["Verifying performance."]
    warnings = [f"{len(log.errors)} ERROR reported in {name} run" for name, log in (("reference", ref), ("audit", test)) if log.errors]
    lines += [f"WARNING: {w}" for w in warnings]
    scenario = ref.get("effective_scenario")
    metric = TEST01_RESULT_FIELD.get(str(scenario), "")

    def fail(reason: str, ref_score: float | None = None, test_score: float | None = None) -> PerformanceCheck:
        return PerformanceCheck(False, scenario, metric, ref_score, test_score, DEFAULT_THRESHOLD,
                                "\n".join([*lines, reason]) + "\n", tuple(warnings))

    for name, log, summary in (("reference", ref, reference_summary), ("audit", test, audit_summary)):
        problem = _validity_problem(name, log, summary)
        if problem:
            return fail(problem)
    if not metric:
        return fail(f"{TEST_FAIL}: unknown scenario {scenario!r} in the reference log")
    if test.get("effective_scenario") != scenario:
        return fail(f"{TEST_FAIL}: Test and reference scenarios do not match!")
    if scenario == "Server" and test.get("effective_target_latency_ns") != ref.get("effective_target_latency_ns"):
        return fail(f"{TEST_FAIL}: Server target latency mismatch")
    ref_score, test_score = _number(ref.get(metric)), _number(test.get(metric))
    if ref_score is None or test_score is None:
        return fail(f"{TEST_FAIL}: {metric} missing from a detail log", ref_score, test_score)
    threshold = _threshold(str(scenario), ref_score)
    lines += [f"Reference score = {ref_score}", f"Test score = {test_score}"]
    passed = ref_score * (1 - threshold) <= test_score <= ref_score * (1 + threshold)
    lines.append(TEST_PASS if passed else f"{TEST_FAIL}: Test score invalid")
    return PerformanceCheck(passed, scenario, metric, ref_score, test_score, threshold, "\n".join(lines) + "\n", tuple(warnings))


def _threshold(scenario: str, reference_score: float) -> float:
    limit = RELAXED_LIMIT.get(scenario)
    return RELAXED_THRESHOLD if limit is not None and reference_score <= limit else DEFAULT_THRESHOLD


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- TEST04


@dataclass(frozen=True)
class _SummaryScore:
    scenario: str | None
    score: float | None
    validity: str | None
    target_latency: str | None
    errors: int


def _test04_score(summary: Path) -> _SummaryScore:
    scenario: str | None = None
    score: float | None = None
    validity: str | None = None
    target_latency: str | None = None
    errors = 0
    for line in _summary_lines(summary):
        stripped = line.strip()
        if line.startswith("Scenario"):
            scenario = line.partition(":")[2].strip()
            continue
        if line.startswith("Result is"):
            validity = line.partition(":")[2].strip()
            continue
        if line.startswith("target_latency (ns)"):
            target_latency = line.partition(":")[2].strip()
            continue
        if re.match(r"\d+ ERROR", stripped):
            errors += int(stripped.split()[0])
            continue
        pattern = _TEST04_SCORE_LINE.get(scenario or "")
        if pattern is not None and pattern.match(line):
            value = _number(line.split(": ", 1)[1].strip()) if ": " in line else None
            if value is not None and scenario in _LATENCY_SCORED:
                value = 1e9 / value if value else None
            score = value
    return _SummaryScore(scenario, score, validity, target_latency, errors)


def verify_test04(
    *,
    reference_summary: Path,
    audit_summary: Path,
    reference_detail: Path | None = None,
    audit_detail: Path | None = None,
) -> Test04Verdict:
    """TEST04: the run that issues one sample over and over must not be more than 10 % faster."""
    ref, test = _test04_score(reference_summary), _test04_score(audit_summary)
    lines = ["Verifying performance."]
    warnings: list[str] = []
    targets: list[Any] = []
    for name, score, detail_path in (("reference", ref, reference_detail), ("test", test, audit_detail)):
        detail = _detail(detail_path) if detail_path is not None else None
        errors = len(detail.errors) if detail is not None else score.errors
        if errors:
            warnings.append(f"{errors} ERROR reported in {name} results")
        targets.append(detail.get("effective_target_latency_ns") if detail is not None else score.target_latency)
    lines += [f"WARNING: {w}" for w in warnings]
    ref_target, test_target = targets

    def verdict(passed: bool, last: str, threshold: float = DEFAULT_THRESHOLD) -> Test04Verdict:
        text = "\n".join([*lines, last]) + "\n"
        check = PerformanceCheck(passed, ref.scenario, "summary score", ref.score, test.score, threshold, text, tuple(warnings))
        return Test04Verdict(passed, check)

    if ref.validity != "VALID":
        return verdict(False, f"{TEST_FAIL}: Reference results are invalid")
    if test.validity != "VALID":
        return verdict(False, f"{TEST_FAIL}: Test results are invalid")
    if ref.scenario != test.scenario or ref.scenario not in _TEST04_SCORE_LINE:
        return verdict(False, f"{TEST_FAIL}: Test and reference scenarios do not match!")
    if ref.scenario == "Server" and ref_target != test_target:
        return verdict(False, f"{TEST_FAIL}: Server target latency mismatch")
    if ref.score is None or test.score is None:
        return verdict(False, f"{TEST_FAIL}: no score line in a summary")
    threshold = _threshold(ref.scenario, ref.score)
    lines += [f"reference score = {ref.score}", f"test score = {test.score}"]
    passed = test.score < ref.score * (1 + threshold)
    return verdict(passed, TEST_PASS if passed else f"{TEST_FAIL}: Test score invalid", threshold)


# --------------------------------------------------------------------------- TEST06

_TOKEN_DTYPES = {"int64": ("q", 8), "int32": ("i", 4), "int16": ("h", 2), "float32": ("f", 4)}


def _tokens(hex_data: str, dtype: str) -> list[float]:
    import struct

    code, size = _TOKEN_DTYPES[dtype]
    raw = bytes.fromhex(hex_data)
    count = len(raw) // size
    return list(struct.unpack(f"<{count}{code}", raw[: count * size]))


def verify_test06(*, accuracy_log: Path, scenario: str, eos_token_id: int, dtype: str = "int32") -> Test06Verdict:
    """TEST06 (LLM output consistency) on an audit run's mlperf_log_accuracy.json.

    Checks, per compliance/TEST06/run_verification.py: the logged output ends with at
    most one EOS token; the logged token_count equals the output length; and, except in
    Offline, the separately reported first token(s) (`token_data`) match the output.
    `eos_token_id` is the model tokenizer's (2 for llama2; pass the model's own).
    """
    if dtype not in _TOKEN_DTYPES:
        raise UsageError(f"unknown token dtype {dtype!r}", hint=", ".join(_TOKEN_DTYPES))
    entries = _load_accuracy_log(accuracy_log)
    reasons: list[str] = []
    eos_ok = length_ok = True
    first_ok: bool | None = None if scenario == "Offline" else True
    for entry in entries:
        idx = entry["qsl_idx"]
        try:
            tokens = _tokens(entry["data"], dtype)
        except ValueError:
            reasons.append(f"qsl_idx {idx}: data is not hex")
            eos_ok = length_ok = False
            continue
        trailing = 0
        for position in range(len(tokens) - 1, 0, -1):  # position 0 is never counted, as upstream
            if tokens[position] != eos_token_id:
                break
            trailing += 1
        if trailing >= 2 and eos_ok:
            eos_ok = False
            reasons.append(f"qsl_idx {idx}: output ends with {trailing} EOS tokens")
        count = entry.get("token_count")
        if not isinstance(count, int) or count != len(tokens):
            if length_ok:
                reasons.append(f"qsl_idx {idx}: token_count {count!r} != output length {len(tokens)}")
            length_ok = False
        if first_ok is not None:
            token_data = entry.get("token_data")
            try:
                first = _tokens(token_data, dtype) if isinstance(token_data, str) else None
            except ValueError:
                first = None
            if first is None or any(a != b for a, b in zip(tokens, first)):
                if first_ok:
                    reasons.append(f"qsl_idx {idx}: first token does not match the output")
                first_ok = False
    passed = eos_ok and length_ok and first_ok is not False
    text = (
        f"First token check pass: {'Skipped' if first_ok is None else first_ok}\n"
        f"EOS check pass: {eos_ok}\n"
        f"Sample length check pass: {length_ok}\n"
        + ("TEST06 verification complete\n" if passed else "TEST06 verification failed\n")
    )
    return Test06Verdict(passed, first_ok, eos_ok, length_ok, len(entries), text, tuple(reasons))
