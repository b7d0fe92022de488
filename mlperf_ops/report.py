"""A self-contained HTML report of a submission tree.

Two halves: `collect_report(root)` reads a tree (through the checker and the LoadGen
log parser) into plain data, and `render_html(data)` turns that data into one HTML
page with inline CSS and SVG charts — pure, so it is tested without a tree. Every
string that comes from the tree is HTML-escaped at the one place it is written into
the page (`_e`), because a tree is input the tool does not control.
"""

from __future__ import annotations

import html
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from string import Template
from typing import AbstractSet, Any

from mlperf_ops import __version__
from mlperf_ops.check.scenario import COMPLIANCE_FAIL_RULES, accuracy_delta, verify_passes
from mlperf_ops.check import CheckReport, Finding, check_tree
from mlperf_ops.check.hygiene import rel
from mlperf_ops.core.tree_layout import DETAIL, DIVISIONS, PROVENANCE, SMOKE_MARKER, SUMMARY
from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.loadgen_log import DetailLog, SummaryLog, parse_detail, parse_summary, primary_metric
from mlperf_ops.rules import Rules, load_rules
from mlperf_ops.core.tree_files import read_tree_text

# LoadGen's percentile keys in the detail log, and the matching "Additional Stats"
# lines of the summary (used when the detail log lacks them).
PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")
LATENCY_SCENARIOS = ("SingleStream", "MultiStream", "Server", "Interactive")
EARLY_STOPPING_SCENARIOS = ("SingleStream", "MultiStream", "Server")
# The headline metric the checker reads per scenario (see check/scenario.py METRIC_KEYS)
# and how a person reads it.
HEADLINE = {
    "SingleStream": ("early_stopping_latency_ss", "90th percentile latency (early stopping)", "ms"),
    "MultiStream": ("early_stopping_latency_ms", "99th percentile latency (early stopping)", "ms"),
    "Offline": ("result_samples_per_second", "throughput", "samples/s"),
    "Server": ("result_completed_samples_per_sec", "completed throughput", "samples/s"),
    "Interactive": ("result_completed_samples_per_sec", "completed throughput", "samples/s"),
}
OPEN_NOTE = "open: not held to target"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class AccuracyResult:
    metric: str
    value: float | None
    target: float | None  # None: the benchmark has no target data in the rules
    upper: float | None = None
    held: bool = True  # False in the open division
    raw: str = ""  # the accuracy.txt line, when no pattern matched

    @property
    def meets(self) -> bool | None:
        if not self.held or self.value is None or self.target is None:
            return None
        return self.value >= self.target and (self.upper is None or self.value <= self.upper)


@dataclass(frozen=True)
class ComplianceResult:
    test: str  # "TEST01"
    check: str  # "accuracy" | "performance" | ... (the verify_<check>.txt name)
    # "PASS" | "FAIL" | "MISSING" | "DELTA" (no TEST PASS, but the accuracies agree within
    # the round's delta, which the checker accepts for a SUT that is not bit-exact)
    verdict: str


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    reference: bool = False  # drawn lighter: a comparison, not the result itself


@dataclass
class ScenarioReport:
    division: str
    submitter: str
    system: str
    system_name: str | None
    benchmark: str  # the directory name (a custom model name in open)
    official_benchmark: str | None
    scenario: str
    metric: str | None = None  # a person's name for the headline metric
    value: float | None = None  # in `unit`
    unit: str = ""
    validity: str | None = None
    early_stopping: bool | None = None  # None: not judged in this scenario
    accuracy: list[AccuracyResult] = field(default_factory=list)
    compliance: list[ComplianceResult] = field(default_factory=list)
    latency_ms: list[Bar] = field(default_factory=list)
    throughput: list[Bar] = field(default_factory=list)
    loadgen_version: str | None = None
    seeds: dict[str, int] = field(default_factory=dict)
    min_duration_ms: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.system}/{self.benchmark}/{self.scenario}"


@dataclass
class ReportData:
    source: str  # what the report was made from (tree or manifest path)
    round: str
    submitters: list[str]
    divisions: list[str]
    smoke: bool
    smoke_text: str
    check_ok: bool
    findings: list[Finding]
    scenarios: list[ScenarioReport]
    provenance: dict[str, Any] | None
    tool_version: str = __version__
    generated: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


# ---------------------------------------------------------------- reading a tree


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_tree_text(path))
    except (OSError, ValueError):
        return None


def _read_text(path: Path) -> str | None:
    try:
        return read_tree_text(path, errors="replace")
    except OSError:
        return None


def _logs(run_dir: Path) -> tuple[DetailLog | None, SummaryLog | None]:
    detail = parse_detail(run_dir / DETAIL) if (run_dir / DETAIL).is_file() else None
    summary = (
        parse_summary(run_dir / SUMMARY) if (run_dir / SUMMARY).is_file() else None
    )
    return detail, summary


def _percentiles(detail: DetailLog | None, summary: SummaryLog | None) -> list[Bar]:
    bars: list[Bar] = []
    for p in PERCENTILES:
        raw = detail.get(f"result_{p}_percentile_latency_ns") if detail else None
        if raw is None and summary is not None:
            raw = summary.fields.get(f"{p} percentile latency (ns)")
        ns = _number(raw)
        if ns is not None:
            label = f"p{float(p):g}"
            bars.append(Bar(label, ns / 1e6))
    return bars


def _verify_verdict(text: str) -> str:
    return "PASS" if verify_passes(text) else "FAIL"


def _tests(cdir: Path) -> list[Path]:
    """The compliance test folders of a result (cdir: where the round's layout keeps them)."""
    return sorted(p for p in cdir.iterdir() if p.name.startswith("TEST") and p.is_dir()) if cdir.is_dir() else []


def _compliance(cdir: Path, root: Path, failing: AbstractSet[str], delta_tests: AbstractSet[str]) -> list[ComplianceResult]:
    """Each verify file's verdict. `failing`: the paths (relative to `root`) of the verify
    files the checker found failing; `delta_tests`: the tests whose accuracy the checker
    holds to the round's accuracy delta where their verify file lacks TEST PASS (TEST01 of
    a SUT that is not bit-exact), so such a file it did not find failing passed that way."""
    out: list[ComplianceResult] = []
    for tdir in _tests(cdir):
        verifies = sorted(tdir.glob("verify_*.txt"))
        if not verifies:
            out.append(ComplianceResult(tdir.name, "verification", "MISSING"))
        for verify in verifies:
            verdict = _verify_verdict(_read_text(verify) or "")
            if (verdict == "FAIL" and tdir.name in delta_tests and verify.name == "verify_accuracy.txt"
                    and rel(root, verify) not in failing):
                verdict = "DELTA"
            out.append(ComplianceResult(tdir.name, verify.stem[len("verify_"):], verdict))
    return out


def _accuracy(sdir: Path, rules: Rules, official: str | None, scenario: str, division: str) -> list[AccuracyResult]:
    text = _read_text(sdir / "accuracy" / "accuracy.txt")
    if text is None:
        return []
    held = division in ("closed", "network")
    bench = rules.benchmarks.get(official) if official else None
    targets = bench.accuracy_for(scenario) if bench else ()
    results: list[AccuracyResult] = []
    for target in targets:
        value = target.find(text)
        results.append(AccuracyResult(target.metric, value, target.target, target.upper, held))
    if not results:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        results.append(AccuracyResult("accuracy", None, None, None, held, raw=first))
    return results


def _throughput(cdir: Path, detail: DetailLog | None, summary: SummaryLog | None) -> list[Bar]:
    bars: list[Bar] = []
    value = _number(detail.get("result_samples_per_second")) if detail else None
    if value is None and summary is not None:
        value = primary_metric(summary)[1]
    if value is not None:
        bars.append(Bar("result", value))
    for tdir in _tests(cdir):
        tdetail, tsummary = _logs(tdir / "performance" / "run_1")
        tvalue = _number(tdetail.get("result_samples_per_second")) if tdetail else None
        if tvalue is None and tsummary is not None:
            tvalue = primary_metric(tsummary)[1]
        if tvalue is not None:
            bars.append(Bar(f"{tdir.name} run", tvalue, reference=True))
    expected = _number(detail.get("effective_target_qps")) if detail else None
    if expected is not None:
        bars.append(Bar("expected QPS", expected, reference=True))
    return bars


def _scenario(root: Path, row: Any, rules: Rules, system_names: dict[tuple[str, str, str], str | None],
              failing: AbstractSet[str] = frozenset()) -> ScenarioReport:
    # the folder as the tree spells it (`offline` is read as Offline)
    sdir = root / row.path if row.path else root / row.division / row.submitter / "results" / row.system / row.benchmark / row.scenario
    report = ScenarioReport(
        division=row.division, submitter=row.submitter, system=row.system,
        system_name=system_names.get((row.division, row.submitter, row.system)),
        benchmark=row.benchmark, official_benchmark=row.official_benchmark, scenario=row.scenario,
        validity=row.validity,
    )
    detail, summary = _logs(sdir / "performance" / "run_1")
    key, label, unit = HEADLINE.get(row.scenario, ("", "", ""))
    value = _number(row.value) if row.metric == key else None
    if value is None and detail is not None:
        value = _number(detail.get(key))
    if value is None and summary is not None:
        _, value = primary_metric(summary)
    report.metric, report.unit = label or None, unit
    report.value = value / 1e6 if value is not None and unit == "ms" else value
    if row.log_format == "endpoints":
        # no LoadGen logs: the value check read from the endpoints harness's files
        report.metric, report.unit, report.value = f"{row.metric} (endpoints harness)", row.unit, row.official_value
    if report.validity is None and summary is not None:
        report.validity = summary.result_validity
    if detail is not None:
        if row.scenario in EARLY_STOPPING_SCENARIOS:
            met = detail.get("early_stopping_met")
            report.early_stopping = met if isinstance(met, bool) else None
        version = detail.get("loadgen_version")
        report.loadgen_version = str(version) if version is not None else None
        report.seeds = detail.seeds
        report.min_duration_ms = _number(detail.get("effective_min_duration_ms"))
    elif summary is not None and row.scenario in EARLY_STOPPING_SCENARIOS:
        report.early_stopping = summary.early_stopping_met
    if row.scenario in LATENCY_SCENARIOS:
        report.latency_ms = _percentiles(detail, summary)
    if row.scenario == "Offline" and sdir.is_dir():
        report.throughput = _throughput(rules.layout.compliance_dir(sdir), detail, summary)
    if sdir.is_dir():
        report.accuracy = _accuracy(sdir, rules, row.official_benchmark, row.scenario, row.division)
        bench = rules.benchmarks.get(row.official_benchmark) if row.official_benchmark else None
        delta_tests = {t for t in rules.audit_tests if bench and accuracy_delta(rules, bench, t) is not None}
        report.compliance = _compliance(rules.layout.compliance_dir(sdir), root, failing, delta_tests)
    return report


def _system_names(root: Path) -> dict[tuple[str, str, str], str | None]:
    names: dict[tuple[str, str, str], str | None] = {}
    for path in sorted(root.glob("*/*/systems/*.json")):
        doc = _read_json(path)
        name = doc.get("system_name") if isinstance(doc, dict) else None
        division, submitter = path.parts[-4], path.parts[-3]
        names[(division, submitter, path.stem)] = str(name) if name is not None else None
    return names


def _provenance(root: Path) -> dict[str, Any] | None:
    for path in sorted(root.glob(f"*/*/src/{PROVENANCE}")):
        doc = _read_json(path)
        if isinstance(doc, dict):
            return doc
    return None


def collect_report(root: Path, *, source: str | None = None, check: CheckReport | None = None) -> ReportData:
    """Read a submission tree into report data (the checker's verdict included)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", hint="give the root of a submission tree or a manifest")
    report = check if check is not None else check_tree(root)
    rules = load_rules(report.round)
    names = _system_names(root)
    failing = {f.path for f in report.findings if f.rule_id in COMPLIANCE_FAIL_RULES}
    scenarios: list[ScenarioReport] = []
    for row in report.results:
        try:
            scenarios.append(_scenario(root, row, rules, names, failing))
        except Exception as error:  # a malformed result still gets a row, never a crash
            broken = ScenarioReport(row.division, row.submitter, row.system, None, row.benchmark,
                                    row.official_benchmark, row.scenario, validity=row.validity)
            broken.notes.append(f"could not read this result: {type(error).__name__}: {error}")
            scenarios.append(broken)
    divisions = sorted({r.division for r in report.results} | {p.name for p in root.iterdir()
                                                               if p.is_dir() and p.name in DIVISIONS})
    submitters = sorted({r.submitter for r in report.results} | {p.name for d in divisions
                                                                 for p in (root / d).iterdir() if p.is_dir()})
    return ReportData(
        source=source or str(root),
        round=report.round,
        submitters=submitters,
        divisions=divisions,
        smoke=report.smoke,
        smoke_text=(_read_text(root / SMOKE_MARKER) or "").strip() if report.smoke else "",
        check_ok=report.ok,
        findings=list(report.findings),
        scenarios=scenarios,
        provenance=_provenance(root),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def report_from_manifest(manifest: Path, *, state_dir: Path, pipeline: str | None = None) -> ReportData:
    """Assemble the manifest's tree from the ledger into a temporary directory and read it.

    The tree is assembled with smoke records allowed (a report describes what there is);
    the untruncated accuracy logs `assemble` keeps in the state dir for this throw-away
    tree are removed again, so a report leaves the ledger as it found it.
    """
    from mlperf_ops.submission.assemble import assemble
    from mlperf_ops.plan.controller import load_context
    from mlperf_ops.core.events import ignore
    from mlperf_ops.state.ledger import Ledger

    ctx = load_context(manifest, pipeline=pipeline)
    ledger = Ledger(state_dir)
    with tempfile.TemporaryDirectory(prefix="mlperf-ops-report-") as tmp:
        out = Path(tmp) / f"report-tree-{Path(tmp).name}"
        try:
            result = assemble(ctx, ledger, out, allow_smoke=True, on_event=ignore)
            return collect_report(result.root, source=str(manifest))
        finally:
            ledger.forget_originals(out.name)


def build_report(path: Path, *, state_dir: Path, pipeline: str | None = None, round: str | None = None) -> str:
    """The HTML page for a tree (a directory) or a manifest (a file). `round`: the rules a
    tree is judged by (default: what the tree says, else the newest)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist", hint="give a submission tree directory or a manifest file")
    if path.is_dir():
        return render_html(collect_report(path, check=check_tree(path, round=round) if round else None))
    if round:
        raise UsageError("--round applies to a tree; a manifest names its round itself", hint="drop --round")
    return render_html(report_from_manifest(path, state_dir=state_dir, pipeline=pipeline))


# ----------------------------------------------------------------- rendering


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def format_value(value: float | None, unit: str) -> str:
    """A number in human units: '3.924 ms', '19,024.1 samples/s'."""
    if value is None:
        return "—"
    if unit == "ms":
        digits = 3 if abs(value) < 10 else 2 if abs(value) < 100 else 1
        return f"{value:,.{digits}f} ms"
    if unit == "samples/s":
        return f"{value:,.1f} samples/s"
    return f"{value:g} {unit}".strip()


def _svg_bars(bars: list[Bar], unit: str, title: str, css_id: str) -> str:
    """Horizontal bar chart as inline SVG, scaled to its largest bar."""
    if not bars:
        return '<p class="muted">no data for a chart</p>'
    label_w, bar_w, value_w, row_h = 110, 300, 150, 24
    width, height = label_w + bar_w + value_w, row_h * len(bars) + 28
    top = max(b.value for b in bars) or 1.0
    parts = [
        f'<svg class="chart" id="{_e(css_id)}" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<text x="0" y="14" font-weight="bold">{_e(title)}</text>',
    ]
    for i, bar in enumerate(bars):
        y = 24 + i * row_h
        w = max(1.0, bar_w * max(bar.value, 0.0) / top)
        cls = "bar ref" if bar.reference else "bar"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(bar.label)}</text>')
        parts.append(
            f'<rect class="{cls}" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
            f'data-label="{_e(bar.label)}" data-value="{bar.value:.6g}"><title>{_e(bar.label)}: '
            f"{_e(format_value(bar.value, unit))}</title></rect>"
        )
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_e(format_value(bar.value, unit))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _validity(value: str | None) -> str:
    return f'<span class="{_e(value or "na")}">{_e(value or "unknown")}</span>'


def _early(s: ScenarioReport) -> str:
    if s.scenario not in EARLY_STOPPING_SCENARIOS:
        return f'<span class="na">n/a ({_e(s.scenario)})</span>'
    if s.early_stopping is None:
        return '<span class="na">unknown</span>'
    return '<span class="met">met</span>' if s.early_stopping else '<span class="not-met">not met</span>'


def _accuracy_cells(s: ScenarioReport) -> tuple[str, str]:
    if not s.accuracy:
        return '<span class="na">no accuracy.txt</span>', '<span class="na">—</span>'
    values, targets = [], []
    for acc in s.accuracy:
        if acc.raw:
            values.append(f'<span class="mono">{_e(acc.raw)}</span>')
        else:
            values.append(f"{_e(acc.metric)} = {_e('—' if acc.value is None else f'{acc.value:g}')}")
        if not acc.held:
            targets.append(f'<span class="muted">{OPEN_NOTE}</span>')
        elif acc.target is None:
            targets.append('<span class="na">no target in the rules</span>')
        else:
            bound = f" and ≤ {acc.upper:g}" if acc.upper is not None else ""
            meets = acc.meets
            verdict = (
                '<span class="na">not found</span>' if meets is None
                else '<span class="pass">meets</span>' if meets else '<span class="fail">below target</span>'
            )
            targets.append(f"≥ {acc.target:g}{bound}: {verdict}")
    return "<br>".join(values), "<br>".join(targets)


def _compliance_cell(s: ScenarioReport) -> str:
    if not s.compliance:
        return '<span class="na">none</span>'
    tests: dict[str, list[ComplianceResult]] = {}
    for c in s.compliance:
        tests.setdefault(c.test, []).append(c)
    lines = []
    for test, checks in tests.items():
        passed = all(c.verdict in ("PASS", "DELTA") for c in checks)
        failed = [c.check for c in checks if c.verdict not in ("PASS", "DELTA")]
        what = ", ".join(f"{c.check} within the allowed accuracy delta" if c.verdict == "DELTA" else c.check
                         for c in checks) if passed else "failed: " + ", ".join(failed)
        verdict = "PASS" if passed else "FAIL"
        lines.append(
            f'<span class="compliance-test" data-test="{_e(test)}" data-verdict="{verdict}">{_e(test)} '
            f'<span class="{verdict.lower()}">{verdict}</span> <span class="muted">({_e(what)})</span></span>'
        )
    return "<br>".join(lines)


def _benchmark_cell(s: ScenarioReport) -> str:
    if s.official_benchmark and s.official_benchmark != s.benchmark:
        return f"{_e(s.benchmark)} <span class=\"muted\">→ {_e(s.official_benchmark)}</span>"
    return _e(s.benchmark)


def _system_cell(s: ScenarioReport) -> str:
    if s.system_name and s.system_name != s.system:
        return f'<span class="mono">{_e(s.system)}</span><br><span class="muted">{_e(s.system_name)}</span>'
    return f'<span class="mono">{_e(s.system)}</span>'


def _results_table(data: ReportData) -> str:
    if not data.scenarios:
        return '<p class="fail">The tree holds no result.</p>'
    rows = [
        "<table id=\"results-table\"><thead><tr><th>system</th><th>benchmark</th><th>scenario</th>"
        "<th>metric</th><th>value</th><th>validity</th><th>early stopping</th><th>accuracy</th>"
        "<th>target</th><th>compliance</th></tr></thead><tbody>"
    ]
    for s in data.scenarios:
        acc, target = _accuracy_cells(s)
        rows.append(
            f'<tr class="result" data-key="{_e(s.key)}"><td>{_system_cell(s)}</td><td>{_benchmark_cell(s)}</td>'
            f"<td>{_e(s.scenario)}</td><td>{_e(s.metric or '—')}</td>"
            f'<td class="num value">{_e(format_value(s.value, s.unit))}</td>'
            f'<td class="validity">{_validity(s.validity)}</td><td>{_early(s)}</td>'
            f'<td class="accuracy">{acc}</td><td class="target">{target}</td>'
            f'<td class="compliance">{_compliance_cell(s)}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _card(index: int, s: ScenarioReport) -> str:
    facts = [
        ("division", _e(s.division)),
        ("submitter", _e(s.submitter)),
        ("result", f"{_e(s.metric or '—')}: <b>{_e(format_value(s.value, s.unit))}</b>"),
        ("validity", _validity(s.validity)),
        ("early stopping", _early(s)),
    ]
    if s.min_duration_ms is not None:
        facts.append(("min_duration", f"{s.min_duration_ms / 1000:g} s"))
    if s.loadgen_version:
        facts.append(("LoadGen", f'<span class="mono">{_e(s.loadgen_version)}</span>'))
    if s.seeds:
        seeds = ", ".join(f"{_e(k)}={_e(v)}" for k, v in sorted(s.seeds.items()))
        facts.append(("seeds", f'<span class="mono">{seeds}</span>'))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    charts = []
    if s.latency_ms:
        charts.append(_svg_bars(s.latency_ms, "ms", "latency percentiles (ms)", f"latency-{index}"))
    if s.throughput:
        charts.append(_svg_bars(s.throughput, "samples/s", "Offline throughput (samples/s)", f"throughput-{index}"))
    notes = "".join(f'<p class="fail">{_e(n)}</p>' for n in s.notes)
    title = f"{_e(s.system)} / {_benchmark_cell(s)} / {_e(s.scenario)}"
    return (
        f'<div class="card" data-key="{_e(s.key)}"><h3>{title}</h3><dl>{body}</dl>'
        f'{"".join(charts)}{notes}</div>'
    )


def _verdict(data: ReportData) -> str:
    n_err, n_warn = len(data.errors), len(data.warnings)
    n_info = len(data.findings) - n_err - n_warn
    if data.check_ok:
        badge = '<span class="verdict ok" id="verdict-badge">OK</span>'
        text = "the mlperf-ops checker found no error"
    else:
        badge = f'<span class="verdict fail" id="verdict-badge">{n_err} error{"s" if n_err != 1 else ""}</span>'
        text = "the mlperf-ops checker found errors" if n_err else "the tree holds no result"
    out = [f"<p>{badge} {text} (round {_e(data.round)}; {n_warn} warning(s), {n_info} note(s)).</p>"]
    order = {"error": 0, "warning": 1}
    serious = sorted((f for f in data.findings if f.severity in order),
                     key=lambda f: (order[f.severity], f.path, f.rule_id))
    notes = sorted((f for f in data.findings if f.severity not in order), key=lambda f: (f.path, f.rule_id))
    if serious:
        out.append(_findings_table(serious, "findings"))
    if notes:
        # Notes (e.g. every short run of a smoke tree) are many and expected: folded away.
        out.append(f'<details id="notes"><summary>{len(notes)} note(s) (info)</summary>'
                   f'{_findings_table(notes, "findings-info")}</details>')
    return "".join(out)


def _findings_table(findings: list[Finding], css_id: str) -> str:
    rows = "".join(
        f'<tr class="finding finding-{_e(f.severity)}"><td class="{_e(f.severity)}">{_e(f.severity)}</td>'
        f'<td class="mono">{_e(f.rule_id)}</td><td class="mono">{_e(f.path or "/")}</td><td>{_e(f.message)}</td></tr>'
        for f in findings
    )
    return (f'<table id="{css_id}"><thead><tr><th>severity</th><th>rule</th><th>path</th><th>message</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def _kv_table(pairs: list[tuple[str, Any]], css_id: str) -> str:
    rows = "".join(f'<tr><th>{_e(k)}</th><td class="mono">{_e(v)}</td></tr>' for k, v in pairs)
    return f'<table id="{css_id}"><tbody>{rows}</tbody></table>'


def _provenance_html(data: ReportData) -> str:
    out: list[str] = []
    loadgen = sorted({s.loadgen_version for s in data.scenarios if s.loadgen_version})
    seeds = sorted({json.dumps(s.seeds, sort_keys=True) for s in data.scenarios if s.seeds})
    prov = data.provenance
    if prov is None:
        out.append(f'<p class="muted">This tree has no src/{PROVENANCE}: it was not assembled by mlperf-ops.</p>')
    else:
        out.append(_kv_table(
            [("tool", f"{prov.get('tool', '?')} {prov.get('tool_version', '?')}"),
             ("round", prov.get("round")), ("pipeline profile", prov.get("profile")),
             ("submittable", prov.get("submittable")), ("manifest", prov.get("manifest"))],
            "provenance-summary",
        ))
        images = prov.get("images")
        if isinstance(images, dict) and images:
            out.append("<h3>Images</h3><table id=\"provenance-images\"><thead><tr><th>tag</th><th>id</th>"
                       "<th>target</th><th>build identity</th></tr></thead><tbody>")
            for tag, image in sorted(images.items()):
                image = image if isinstance(image, dict) else {}
                out.append(
                    f'<tr><td class="mono">{_e(tag)}</td><td class="mono">{_e(image.get("id"))}</td>'
                    f'<td>{_e(image.get("target"))}</td><td class="mono">{_e(image.get("identity"))}</td></tr>'
                )
            out.append("</tbody></table>")
        runs = prov.get("runs")
        if isinstance(runs, list) and runs:
            out.append(f"<h3>Runs</h3><details open><summary>{len(runs)} run record(s)</summary>"
                       '<table id="provenance-runs"><thead><tr><th>run</th><th>key</th><th>status</th>'
                       "<th>image id</th><th>LoadGen</th><th>seeds</th></tr></thead><tbody>")
            for run in runs:
                run = run if isinstance(run, dict) else {}
                key = str(run.get("key") or "")
                image_id = str(run.get("image_id") or "")
                seeds_v = run.get("seeds")
                seeds_s = ", ".join(f"{k}={v}" for k, v in sorted(seeds_v.items())) if isinstance(seeds_v, dict) else ""
                out.append(
                    f'<tr><td class="mono">{_e(run.get("run_id"))}</td>'
                    f'<td class="mono" title="{_e(key)}">{_e(key[:16])}</td><td>{_e(run.get("status"))}</td>'
                    f'<td class="mono" title="{_e(image_id)}">{_e(image_id[:19])}</td>'
                    f'<td class="mono">{_e(run.get("loadgen_version"))}</td><td class="mono">{_e(seeds_s)}</td></tr>'
                )
            out.append("</tbody></table></details>")
    out.append("<h3>From the LoadGen logs</h3>")
    out.append(_kv_table(
        [("LoadGen version", "; ".join(loadgen) or "unknown"),
         ("seeds", "; ".join(", ".join(f"{k}={v}" for k, v in sorted(json.loads(s).items())) for s in seeds)
          or "unknown"),
         ("report made by", f"mlperf-ops {data.tool_version}")],
        "provenance-logs",
    ))
    return "".join(out)


def _template() -> Template:
    return Template(resources.files("mlperf_ops").joinpath("report_template.html").read_text(encoding="utf-8"))


def render_html(data: ReportData) -> str:
    """The whole page: one HTML document with inline CSS and SVG, nothing external."""
    who = ", ".join(data.submitters) or "unknown submitter"
    divisions = ", ".join(data.divisions) or "no division"
    heading = f"{who} — MLPerf Inference {data.round} — {divisions}"
    sub = f"{len(data.scenarios)} result(s) from {data.source}"
    banner = ""
    if data.smoke:
        detail = f"<br><span class=\"mono\">{_e(data.smoke_text)}</span>" if data.smoke_text else ""
        banner = (
            '<div class="banner smoke" id="smoke-banner">SMOKE TREE — short runs, never submittable.'
            f"{detail}</div>"
        )
    cards = "".join(_card(i, s) for i, s in enumerate(data.scenarios)) or '<p class="muted">no result</p>'
    return _template().substitute(
        title=_e(f"{'[SMOKE] ' if data.smoke else ''}{heading}"),
        heading=_e(heading),
        subheading=_e(sub),
        banner=banner,
        verdict=_verdict(data),
        results_table=_results_table(data),
        scenario_cards=cards,
        provenance=_provenance_html(data),
        tool_version=_e(data.tool_version),
        source=_e(data.source),
        generated=_e(data.generated),
    )
