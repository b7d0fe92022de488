"""`check_tree`: walk a submission tree and check everything, never crashing on it."""

from __future__ import annotations

import json
import re
import traceback
from pathlib import Path
from typing import Any

from mlperf_ops.check.findings import CheckReport, Finding, ResultRow, Severity, finding, strictly
from mlperf_ops.check.allocator import keep_freed_memory
from mlperf_ops.check.hygiene import TreeWalk, hygiene_findings, rel, splice, walk_tree
from mlperf_ops.check.parallel import fork_map
from mlperf_ops.check.scenario import READ_AND_SCANNED, ScenarioCtx, ScenarioOutcome, check_scenario
from mlperf_ops.check.seed_round import collapse_seed_findings, refuse
from mlperf_ops.check.verdicts import assign_verdicts
from mlperf_ops.check.system_json import system_json_findings
from mlperf_ops import secretscan
from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.loadgen_log import prepare_decoders
from mlperf_ops.core.tree_layout import DIVISIONS, is_endpoints_result
from mlperf_ops.rules import SCENARIOS, Rules, available_rounds, load_rules

from mlperf_ops.core.tree_layout import PROVENANCE, SMOKE_MARKER
from mlperf_ops.core.tree_files import read_tree_text
SUBMITTER_ENTRIES = {"systems", "src", "results", "documentation", "calibration.md", "README.md"}
_ROUND_RE = re.compile(r"\bround\s*[:=]\s*(v\d+\.\d+)\b")
_SCENARIO_BY_LOWER = {s.lower(): s for s in SCENARIOS}
# From this many results on, they are checked over several processes (parallel.py).
PARALLEL_RESULTS = 24
# The hygiene walk's cost per result of the tree, in results (a result weighs 1): on the
# generated tree, 0.05 s of walk beside 0.6 CPU-s of result checks for 201 results.
WALK_WEIGHT = 0.1
# What the walk may scan for secrets beside the result checks (the rest is scanned after
# them, over several processes when it is large): the small files of a tree no result check
# reads (README.md, user.conf, accuracy logs: 8 MB on the 201-result tree).
WALK_SCAN_BYTES = 8 * 1024 * 1024


def tree_round(root: Path) -> str | None:
    """The round a tree says it is for: its smoke marker, else its provenance file."""
    try:
        m = _ROUND_RE.search(read_tree_text(root / SMOKE_MARKER, errors="replace"))
        if m:
            return m.group(1)
    except OSError:
        pass
    for prov in sorted(root.glob(f"*/*/src/{PROVENANCE}")):
        try:
            doc = json.loads(read_tree_text(prov))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("round"), str):
            return str(doc["round"])
    return None


def is_smoke_tree(root: Path) -> bool:
    return (root / SMOKE_MARKER).is_file()


def _internal(root: Path, path: Path, error: BaseException) -> Finding:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return finding(
        "check.internal",
        rel(root, path),
        f"{type(error).__name__}: {error} (at {Path(where.filename).name}:{where.lineno})",
    )


_Done = tuple[ScenarioOutcome | None, list[Finding], dict[str, dict[str, str]], dict[str, list[Finding]]]


def _run_scenario(ctx: ScenarioCtx) -> _Done:
    """One result's checks: its outcome (None if the check broke), its findings, the
    seeds of its logs that carry another round's, and the secret findings of the files
    it read."""
    try:
        outcome: ScenarioOutcome | None = check_result(ctx)
        broke: list[Finding] = []
    except Exception as error:  # one bad result never stops the others
        outcome, broke = None, [_internal(ctx.root, ctx.path, error)]
    return outcome, broke + ctx.findings, ctx.foreign_seeds, ctx.scanned


def check_result(ctx: ScenarioCtx) -> ScenarioOutcome:
    """One result's checks: its LoadGen logs, or the files of the endpoints harness (read
    the way the official loader decides: when neither LoadGen detail log is there)."""
    if is_endpoints_result(ctx.path):
        from mlperf_ops.check.endpoints import check_endpoints_result

        return check_endpoints_result(ctx)
    return check_scenario(ctx)


def _run_job(job: ScenarioCtx | Path) -> Any:
    """A result's checks, or the hygiene walk of the tree at `job`: it scans the small
    files no result check reads (READ_AND_SCANNED) beside them, not after them."""
    if isinstance(job, Path):
        return walk_tree(job, leave=READ_AND_SCANNED, scan_budget=WALK_SCAN_BYTES)
    return _run_scenario(job)


class _Walker:
    def __init__(self, root: Path, rules: Rules, duration_severity: Severity, strict: bool = False) -> None:
        self.root = root
        self.strict = strict
        self.rules = rules
        self.duration_severity: Severity = duration_severity
        self.findings: list[Finding] = []
        self.results: list[ResultRow] = []
        # each result's checks, run after the walk (check_results): (ctx, its row, where
        # in self.findings its findings go)
        self.pending: list[tuple[ScenarioCtx, ResultRow, int]] = []
        self.foreign_seeds: dict[str, dict[str, str]] = {}  # see ScenarioCtx.foreign_seeds
        self.scanned: dict[str, list[Finding]] = {}  # see ScenarioCtx.scanned

    def add(self, rule_id: str, path: Path, message: str, severity: Severity | None = None) -> None:
        self.findings.append(finding(rule_id, rel(self.root, path), message, severity))

    def internal(self, path: Path, error: BaseException) -> None:
        self.findings.append(_internal(self.root, path, error))

    def _unchecked(self, division: str, submitter: str, system: str, benchmark: str, official: str | None,
                   folder: Path) -> None:
        """A result the official checker reads and refuses, which has no checks here: a folder
        of an unknown benchmark, or one that is no scenario. A finding of its own or of its
        benchmark folder decides it."""
        self.results.append(ResultRow(division, submitter, system, benchmark, official, folder.name, None, None,
                                      None, None, path=rel(self.root, folder)))

    def check_results(self) -> TreeWalk:
        """Every result's checks, over several processes when there are many, and beside
        them the hygiene walk of the tree (it reads no file), which it returns."""
        many = len(self.pending) >= PARALLEL_RESULTS
        if many:
            keep_freed_memory()
            # what every result check builds on first use, built once before the fork:
            # each child would build it again, on the critical path
            prepare_decoders()
            secretscan.prepare_searcher()
        jobs: list[ScenarioCtx | Path] = [ctx for ctx, _, _ in self.pending]
        # A result weighs 1; the walk (names and an lstat per entry) about a tenth of all of them
        weights = [1.0] * len(jobs) + [max(1.0, WALK_WEIGHT * len(jobs))]
        *done, walked = fork_map(_run_job, [*jobs, self.root], weights=weights, workers=None if many else 1)
        for (_, row, _), (outcome, _, seeds, scanned) in zip(self.pending, done):
            self.foreign_seeds.update(seeds)
            self.scanned.update(scanned)
            if outcome is not None:
                row.metric, row.value = outcome.metric, outcome.value
                row.validity, row.accuracy = outcome.validity, outcome.accuracy
                row.official_value, row.unit = outcome.official_value, outcome.unit
                row.power_value, row.power_unit = outcome.power_value, outcome.power_unit
                row.log_format = outcome.log_format
        self.findings = splice(self.findings, [at for _, _, at in self.pending], [found for _, found, _, _ in done])
        self.pending = []
        assert isinstance(walked, TreeWalk)
        return walked

    # ---------------------------------------------------------------- levels

    def walk(self) -> None:
        divisions = 0
        for entry in sorted(self.root.iterdir()):
            name = entry.name
            if name.startswith("."):
                continue  # reported by hygiene
            if name in DIVISIONS:
                if not entry.is_dir() or entry.is_symlink():
                    self.add("tree.not-a-dir", entry, f"{name} must be a directory")
                    continue
                divisions += 1
                self.division(entry)
            elif name == SMOKE_MARKER and entry.is_file():
                continue
            elif name.lower() in DIVISIONS:
                self.add("tree.division-case", entry, f"{name!r} must be spelled {name.lower()!r}")
            else:
                self.add("tree.stray-entry", entry, f"only {', '.join(DIVISIONS)} belong at the top level")
        if divisions == 0:
            self.add("tree.empty", self.root, "no closed/, open/ or network/ directory")
        elif not self.results:
            self.add("tree.empty", self.root, "the tree holds no result")

    def division(self, path: Path) -> None:
        for entry in sorted(path.iterdir()):
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            if not entry.is_dir():
                self.add("tree.stray-entry", entry, "a division holds submitter directories only")
                continue
            try:
                self.submitter(path.name, entry)
            except Exception as error:  # one broken submitter never stops the others
                self.internal(entry, error)

    def _json(self, path: Path) -> tuple[Any, str | None]:
        try:
            return json.loads(read_tree_text(path)), None
        except OSError as error:
            return None, f"cannot read: {error.strerror}"
        except UnicodeDecodeError:
            return None, "not UTF-8 text"
        except ValueError as error:
            return None, f"not valid JSON: {error}"

    def model_mapping(self, division: str, sub: Path) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """The open submitter's usable mapping, and its entries that cannot be used (custom
        name -> (rule, why)). The official checker reads an entry only for a folder that
        needs it: a bad entry refuses the results of the folders that use it, no others
        (the benchmark's own check reports it there); a file that is no mapping at all is
        as good as none (its folders are then unknown benchmarks)."""
        path = sub / "model_mapping.json"
        if not path.exists():
            return {}, {}
        if division != "open":
            self.add("tree.stray-entry", path, "model_mapping.json is only read in the open division", "warning")
            return {}, {}
        doc, problem = self._json(path)
        if problem or not isinstance(doc, dict):
            self.add("mapping.bad-json", path, problem or 'expected {"custom-name": "official-benchmark"}', "warning")
            return {}, {}
        mapping: dict[str, str] = {}
        bad: dict[str, tuple[str, str]] = {}
        for custom, official in doc.items():
            if not isinstance(official, str):
                bad[custom] = ("mapping.bad-json", f"model_mapping.json maps {custom!r} to {official!r}, not a name")
            elif official not in self.rules.benchmarks:
                bad[custom] = ("mapping.unknown-target",
                               f"model_mapping.json maps {custom!r} to {official!r}, not a benchmark of {self.rules.round}")
            else:
                mapping[custom] = official
        return mapping, bad

    def systems(self, division: str, submitter: str, sub: Path) -> dict[str, dict[str, Any] | None]:
        docs: dict[str, dict[str, Any] | None] = {}
        systems = sub / "systems"
        if not systems.is_dir():
            if systems.exists():
                self.add("tree.not-a-dir", systems, "systems must be a directory")
            return docs
        for entry in sorted(systems.iterdir()):
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            if not entry.is_file() or not entry.name.endswith(".json"):
                self.add("tree.stray-entry", entry, "systems/ holds <system>.json files only", "warning")
                continue
            doc, problem = self._json(entry)
            where = rel(self.root, entry)
            if problem:
                self.add("system.bad-json", entry, problem)
                docs[entry.name[:-5]] = None
                continue
            self.findings.extend(
                system_json_findings(doc, self.rules, division=division, submitter=submitter, path=where)
            )
            docs[entry.name[:-5]] = doc if isinstance(doc, dict) else None
        return docs

    def submitter(self, division: str, sub: Path) -> None:
        submitter = sub.name
        layout = self.rules.layout
        allowed = SUBMITTER_ENTRIES | layout.submitter_entries | {"model_mapping.json"}
        for entry in sorted(sub.iterdir()):
            if entry.name not in allowed and not entry.name.startswith("."):
                self.add("tree.stray-entry", entry, "not part of the submission layout", "warning")
        src = sub / layout.src
        if not src.exists():
            self.add("tree.src-missing", src, f"{layout.src}/ is required (code and READMEs of the implementation)")
        elif not src.is_dir():  # the official checker asks only that it exists
            self.add("tree.stray-entry", src, f"{layout.src} must be a directory (code and READMEs of the implementation)",
                     "warning")
        if division in ("closed", "network") and not (
            (sub / "calibration.md").is_file() or (sub / "documentation" / "calibration.md").is_file()
        ):
            self.add("tree.calibration-missing", sub, "calibration.md (or documentation/calibration.md) is required")
        mapping, bad_mapping = self.model_mapping(division, sub)
        docs = self.systems(division, submitter, sub)
        results = sub / "results"
        if not results.is_dir():
            self.add("tree.no-results", results, "results/ is missing" if not results.exists() else "results must be a directory")
            systems_with_results: set[str] = set()
        else:
            systems_with_results = set()
            for system_dir in sorted(results.iterdir()):
                if system_dir.name.startswith(".") or system_dir.is_symlink():
                    continue
                if not system_dir.is_dir():
                    # the official loader reads only directories here; published trees hold the
                    # submission checker's own log (submission_checker_log.txt) in results/
                    self.add("tree.stray-entry", system_dir, "results/ holds one directory per system",
                             "warning")
                    continue
                systems_with_results.add(system_dir.name)
                try:
                    self.system(division, submitter, system_dir, docs, mapping, bad_mapping)
                except Exception as error:
                    self.internal(system_dir, error)
        for name in sorted(set(docs) - systems_with_results):
            self.add("system.unused", sub / "systems" / f"{name}.json", f"system {name!r} has no results")
        used = {b.name for s in systems_with_results for b in (results / s).iterdir()} if results.is_dir() else set()
        for custom in sorted(set(mapping) - used):
            self.add("mapping.unused", sub / "model_mapping.json", f"{custom!r} names no result directory")
        for custom in sorted(set(bad_mapping) - used):  # read by no folder: the official checker never reads it
            rule, why = bad_mapping[custom]
            self.add(rule, sub / "model_mapping.json", f"{why}; no result directory uses it", "warning")

    def system(
        self,
        division: str,
        submitter: str,
        system_dir: Path,
        docs: dict[str, dict[str, Any] | None],
        mapping: dict[str, str],
        bad_mapping: dict[str, tuple[str, str]],
    ) -> None:
        name = system_dir.name
        if name not in docs:
            self.add("system.missing", system_dir, f"systems/{name}.json is missing")
        doc = docs.get(name)
        system_type = doc.get("system_type") if doc else None
        system_type = system_type if isinstance(system_type, str) and system_type else None
        for bench_dir in sorted(system_dir.iterdir()):
            if bench_dir.name.startswith(".") or bench_dir.is_symlink():
                continue
            if not bench_dir.is_dir():
                # the official loader reads only directories here (publication adds a README.md)
                self.add("tree.stray-entry", bench_dir, "a system directory holds benchmark directories only",
                         "warning")
                continue
            try:
                self.benchmark(division, submitter, name, system_type, doc, bench_dir, mapping, bad_mapping)
            except Exception as error:
                self.internal(bench_dir, error)

    def benchmark(
        self,
        division: str,
        submitter: str,
        system: str,
        system_type: str | None,
        doc: dict[str, Any] | None,
        bench_dir: Path,
        mapping: dict[str, str],
        bad_mapping: dict[str, tuple[str, str]],
    ) -> None:
        """A benchmark folder: as the official loader reads one, every folder in it is a
        result. In closed and network, a folder that is no scenario of the benchmark for the
        system type refuses every result of the benchmark (its scenario list is wrong); in
        open, only its own. A folder that is a scenario gets its checks."""
        name = bench_dir.name
        folders: list[Path] = []
        for entry in sorted(bench_dir.iterdir()):
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            if entry.is_dir():
                folders.append(entry)
            else:
                # the official loader reads only scenario directories here
                self.add("tree.stray-entry", entry, "a benchmark directory holds scenario directories only", "warning")
        official = self.rules.benchmark_for_folder(name, mapping)
        if official is None:
            if name in bad_mapping:
                self.add(bad_mapping[name][0], bench_dir, bad_mapping[name][1])
            else:
                hint = " (map it in model_mapping.json)" if division == "open" else ""
                self.add("bench.unknown", bench_dir, f"{name!r} is not a benchmark of {self.rules.round}{hint}")
            for folder in folders:
                self._unchecked(division, submitter, system, name, None, folder)
            return
        bench = self.rules.benchmarks[official]
        strict_list = division in ("closed", "network")
        allowed = set(bench.allowed_scenarios)
        if strict_list and system_type and self.rules.offered(official, system_type):
            allowed = set(self.rules.closed_scenarios(official, system_type))
        scenarios: list[tuple[str, Path]] = []
        unknown: list[str] = []
        for entry in folders:
            # the official loader compares scenario folders case-insensitively (`offline` is Offline)
            canonical = _SCENARIO_BY_LOWER.get(entry.name.lower())
            if canonical is None or (strict_list and canonical not in allowed):
                if strict_list:
                    unknown.append(entry.name)
                else:
                    self.add("scenario.unknown", entry, f"{entry.name!r} is not a scenario ({', '.join(SCENARIOS)})")
                self._unchecked(division, submitter, system, name, official, entry)
                continue
            if canonical != entry.name:
                self.add("scenario.case", entry, f"{entry.name!r} is read as {canonical}; LoadGen and the results table spell it {canonical!r}")
            scenarios.append((canonical, entry))
        if unknown:
            on = f" on {system_type} systems" if system_type else ""
            self.add("scenario.unknown", bench_dir,
                     f"{', '.join(repr(u) for u in unknown)}: no scenario of {official}{on}; the official checker "
                     f"refuses every result of a benchmark folder holding one")
        if division in ("closed", "network") and system_type:
            types = [t for t in system_type.split(",") if t]
            if not any(t in bench.system_types for t in types):
                self.add("bench.wrong-system-type", bench_dir, f"{official} is not offered for {system_type} systems")
            present = {canonical for canonical, _ in scenarios}
            for required in self.rules.required_scenarios(official, system_type):
                if required not in present:
                    self.add("scenario.missing", bench_dir / required, f"{required} is required for {official} on {system_type}")
            for group in self.rules.one_of_scenarios(official, system_type):
                if not present.intersection(group):
                    self.add("scenario.missing", bench_dir, f"one of {' or '.join(group)} is required for {official}")
        for scenario, scenario_dir in scenarios:
            ctx = ScenarioCtx(
                root=self.root,
                path=scenario_dir,
                rules=self.rules,
                division=division,
                submitter=submitter,
                system=system,
                system_type=system_type,
                benchmark_dir=name,
                bench=bench,
                scenario=scenario,
                system_json=doc,
                duration_severity=self.duration_severity,
                strict=self.strict,
            )
            row = ResultRow(division, submitter, system, name, official, scenario, None, None, None, None,
                            path=rel(self.root, scenario_dir))
            self.pending.append((ctx, row, len(self.findings)))
            self.results.append(row)


def own_folders(root: Path, rules: Rules, results: list[ResultRow]) -> dict[str, list[str]]:
    """Result path -> its measurements and compliance folders where the round's layout keeps
    them outside its results/ folder (v5.x), relative to `root`."""
    layout = rules.layout
    out: dict[str, list[str]] = {}
    if not layout.apart:
        return out  # v6.x: everything of a result lies in its results/ folder
    for row in results:
        if row.path.count("/") < 5:  # <division>/<submitter>/results/<system>/<benchmark>/<scenario>
            continue
        folder = root / row.path
        extra = {rel(root, layout.measurements_dir(folder)), rel(root, layout.compliance_dir(folder))} - {row.path}
        if extra:
            out[row.path] = sorted(extra)
    return out


def check_tree(
    root: Path, *, round: str | None = None, as_submission: bool = False, strict: bool = False
) -> CheckReport:
    """Check a submission tree against a round's rules (see the rule table).

    `strict`: hygiene findings (warnings by default) count as errors.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", hint="give the root of a submission tree")
    notes: list[Finding] = []
    round_name = round
    if round_name is None:
        said = tree_round(root)
        if said is not None and said not in available_rounds():
            notes.append(finding("check.round-unknown", "", f"the tree says round {said}; checking as {available_rounds()[-1]}"))
            said = None
        round_name = said or available_rounds()[-1]
    rules = load_rules(round_name)
    smoke = is_smoke_tree(root)
    walker = _Walker(root, rules, "info" if smoke and not as_submission else "error", strict)
    try:
        walker.walk()
    except Exception as error:
        walker.internal(root, error)
    walked = walker.check_results()
    # the secret scan last: the result checks scanned the files they read (most of a
    # tree's bytes), and it reads only the others; the hygiene findings come first
    found = notes + hygiene_findings(root, walker.scanned, walked) + walker.findings
    findings = [strictly(f) for f in found] if strict else found
    findings, seed_note, seed_logs = collapse_seed_findings(
        root, rules.round, findings, walker.foreign_seeds, walker.results)
    assign_verdicts(findings, walker.results, own_folders(root, rules, walker.results))
    if seed_note is not None:
        refuse(walker.results, seed_note, seed_logs)
    return CheckReport(
        root=str(root),
        round=rules.round,
        smoke=smoke,
        as_submission=as_submission,
        findings=findings,
        results=walker.results,
        strict=strict,
    )
