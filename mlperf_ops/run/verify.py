"""Verify a finished audit run against its reference runs from the ledger.

Glue between the ledger (where the reference performance and accuracy runs live)
and the pure checks in `compliance`. It writes the verification files into the
audit attempt's `verification/` folder, which `assemble` copies into
`<scenario>/TESTxx/` as they are.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlperf_ops.run import compliance
from mlperf_ops.core.errors import MlperfOpsError
from mlperf_ops.run.outcome import read_accuracy
from mlperf_ops.core.tree_layout import ACCURACY_LOG, DETAIL, SUMMARY
from mlperf_ops.manifest.model import BenchmarkSpec
from mlperf_ops.plan.matrix import RunSpec
from mlperf_ops.rules import Rules
from mlperf_ops.state.ledger import Attempt, Ledger

# Runs the benchmark's accuracy script on a log (inside the image); returns accuracy.txt.
AccuracyScript = Callable[[Path], Path]


@dataclass(frozen=True)
class AuditVerdict:
    test: str
    passed: bool
    summary: str
    details: dict[str, Any]
    retryable: bool = False  # only the performance comparison failed

    def as_dict(self) -> dict[str, Any]:
        return {"test": self.test, "passed": self.passed, "summary": self.summary, **self.details}


def _write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


def verify_audit(spec: RunSpec, bench: BenchmarkSpec, attempt: Attempt, ledger: Ledger, rules: Rules,
                 accuracy_script: AccuracyScript) -> AuditVerdict:
    test = str(spec.audit_test)
    refs = spec.inputs.get("references") or {}
    perf = ledger.done(str(refs.get("performance")))
    if perf is None:
        return AuditVerdict(test, False, "reference performance run has no finished record", {})
    output, folder = attempt.output_dir, attempt.verification_dir
    kind = rules.audit_tests[test].kind
    try:
        if kind == "duplicate_sample":
            v4 = compliance.verify_test04(
                reference_summary=perf.output_dir / SUMMARY, audit_summary=output / SUMMARY,
                reference_detail=perf.output_dir / DETAIL, audit_detail=output / DETAIL,
            )
            _write(folder, v4.files())
            return AuditVerdict(test, v4.passed, f"{test} {'PASS' if v4.passed else 'FAIL'}: performance "
                                f"{v4.performance.audit_score} vs {v4.performance.reference_score}",
                                {"performance": v4.performance.text}, retryable=not v4.passed)
        if kind == "accuracy_sampling":
            acc = ledger.done(str(refs.get("accuracy")))
            if acc is None:
                return AuditVerdict(test, False, "reference accuracy run has no finished record", {})
            scratch = attempt.scratch_dir
            scratch.mkdir(exist_ok=True)

            def score(log: Path) -> compliance.AccuracyScore:
                local = log if log.is_relative_to(attempt.dir) else scratch / log.name
                if local != log:
                    shutil.copyfile(log, local)
                txt = accuracy_script(local)
                found = read_accuracy(txt, rules, spec.official) or {}
                value = next(iter(found.values()), float("nan"))
                return compliance.AccuracyScore(float(value), txt.read_text("utf-8"))

            v1 = compliance.verify_test01(
                accuracy_log=acc.output_dir / ACCURACY_LOG, audit_accuracy_log=output / ACCURACY_LOG,
                reference_detail=perf.output_dir / DETAIL, audit_detail=output / DETAIL,
                reference_summary=perf.output_dir / SUMMARY, audit_summary=output / SUMMARY,
                accuracy_fn=score, delta_perc=compliance.default_delta_perc(spec.official),
            )
            files = v1.files()
            # The tree's TEST01/accuracy/accuracy.txt: the accuracy script over the audit log.
            files["accuracy/accuracy.txt"] = accuracy_script(output / ACCURACY_LOG).read_text("utf-8")
            _write(folder, files)
            shutil.rmtree(scratch, ignore_errors=True)
            how = "responses identical" if v1.responses.passed else (
                "accuracy within bounds" if v1.fallback and v1.fallback.passed else "responses differ")
            return AuditVerdict(test, v1.passed, f"{test} {'PASS' if v1.passed else 'FAIL'}: {how}; "
                                f"performance {'within' if v1.performance.passed else 'outside'} threshold",
                                {"matched": v1.responses.matched, "mismatched": v1.responses.mismatched,
                                 "problems": list(v1.problems)},
                                retryable=v1.accuracy_passed and not v1.performance.passed)
        if kind == "output_consistency":
            if bench.eos_token_id is None:
                return AuditVerdict(test, False, f"{test} needs the benchmark's eos_token_id", {})
            v6 = compliance.verify_test06(accuracy_log=output / ACCURACY_LOG, scenario=spec.scenario,
                                          eos_token_id=bench.eos_token_id, dtype=bench.token_dtype)
            _write(folder, v6.files())
            return AuditVerdict(test, v6.passed, f"{test} {'PASS' if v6.passed else 'FAIL'}: "
                                f"{v6.samples} outputs checked", {"samples": v6.samples})
    except (MlperfOpsError, OSError, RuntimeError) as error:
        return AuditVerdict(test, False, f"{test} verification could not run: {error}", {})
    return AuditVerdict(test, False, f"{test} ({kind}) is verified by an external harness, not natively", {})
