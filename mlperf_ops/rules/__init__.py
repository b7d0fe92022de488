"""The rules of an MLPerf Inference round, as data.

Each round is one YAML file next to this module (`v6.1.yaml`, `v6.0.yaml`, ...).
Every value in those files cites the file of the official `mlcommons/inference`
repository it comes from, at a pinned commit. Nothing round-specific lives in code:
code asks a `Rules` object. Older rounds without rules here are known by their LoadGen
seeds alone (`rounds_without_rules.yaml`), so a tree of one is named, not misjudged.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from msgspec import Struct, field  # not dataclasses: made in C at import (docs/architecture.md)

from mlperf_ops.core.errors import UsageError
from mlperf_ops.rules.compiled import parsed

SCENARIOS = ("SingleStream", "MultiStream", "Offline", "Server", "Interactive")
SYSTEM_TYPES = ("datacenter", "edge")


_regex = cache(re.compile)  # re's own cache costs a lookup per call: per line of accuracy.txt


class AccuracyTarget(Struct, frozen=True):
    metric: str  # e.g. "acc", "F1", "DICE", "ROUGE1"
    pattern: str  # regex with one group capturing the number in accuracy.txt
    target: float  # the absolute value a closed/network result must reach
    upper: float | None = None  # where the round also bounds the value from above

    def find(self, text: str) -> float | None:
        """The metric's value in accuracy.txt: the first line the pattern matches."""
        # accuracy.txt can hold thousands of lines (an LLM's evaluation log): tried from C
        line = next(filter(_regex(self.pattern).match, text.splitlines()), None)
        if line is None:
            return None
        try:
            return float(self.find_text(line) or "")
        except ValueError:
            return None

    def find_text(self, line: str) -> str | None:
        """The metric's text on one line of accuracy.txt, as written (the summary CSV's)."""
        match = _regex(self.pattern).match(line)
        if not match:
            return None
        try:
            return match.group(1)
        except IndexError:
            return None


class AuditTest(Struct, frozen=True):
    """A compliance test: the settings of its official audit.config."""

    name: str  # "TEST01"
    kind: str  # "accuracy_sampling" | "duplicate_sample" | "output_consistency" | "external"
    settings: dict[str, str]  # `*.*.key = value` lines of audit.config
    per_benchmark: dict[str, dict[str, str]] = field(default_factory=dict)
    source: str = ""
    # files the checker requires in `<scenario>/<name>/`, relative to that directory
    required_files: tuple[str, ...] = ()
    # whether the official procedure checks this test's performance/run_1 like a result's
    # (TEST01, TEST04); the other tests are judged by their verify files alone
    performance_run_checked: bool = False
    # benchmark -> metric -> allowed |1 - baseline/compliance| in percent: the fallback when
    # TEST01's verify_accuracy.txt lacks TEST PASS (non-deterministic SUTs)
    accuracy_delta_percent: dict[str, dict[str, float]] = field(default_factory=dict)
    # the verify files that decide the test, each with how it says TEST PASS: "pass-line"
    # (a line that is exactly TEST PASS), "pass-anywhere" (TEST PASS anywhere in it),
    # "output-consistency" (TEST06's three check lines); no other verify file is read
    verify: dict[str, str] = field(default_factory=dict)

    def audit_config_for(self, benchmark: str) -> dict[str, str]:
        merged = dict(self.settings)
        merged.update(self.per_benchmark.get(benchmark, {}))
        return merged

    def audit_config_lines(self, benchmark: str) -> list[str]:
        """The `model.scenario.key = value` lines of this test's audit.config.

        A settings key without a dot applies to every model and scenario (`*.*.`);
        a dotted key (TEST04's per-scenario lines) is already a full LoadGen key.
        """
        return [
            f"{k if '.' in k else '*.*.' + k} = {v}"
            for k, v in self.audit_config_for(benchmark).items()
        ]


class Benchmark(Struct, frozen=True):
    name: str  # the checker's name: "resnet", "llama3.1-8b", ...
    loadgen_model: str  # LoadGen's model key for FromConfig: "resnet50", "llama3_1-8b", ...
    # closed/network: scenarios every system of that type must submit; keyed "datacenter",
    # "edge" and "datacenter,edge" (the checker's own table for combined systems); a
    # benchmark missing from a table is not offered to that kind of system (`Rules.offered`)
    required_scenarios: dict[str, tuple[str, ...]]
    # closed/network: per system type, groups of which at least one scenario is required
    one_of_scenarios: dict[str, tuple[tuple[str, ...], ...]]
    # scenarios that exist at all for this benchmark (open may submit any subset)
    allowed_scenarios: tuple[str, ...]
    system_types: tuple[str, ...]  # where the benchmark exists: ("datacenter",), ("edge",), both
    compliance_tests: tuple[str, ...]
    accuracy: tuple[AccuracyTarget, ...]
    performance_sample_count: int
    dataset_size: int  # samples an accuracy run must cover
    offline_min_samples_per_query: int | None
    server_target_latency_ms: float | None
    interactive_target_latency_ms: float | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field -> cited file
    # closed/network: scenarios allowed but not required, per system type, as the checker
    # lists them ("at least one of" groups are derived into one_of_scenarios)
    optional_scenarios: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # scenario -> accuracy targets replacing `accuracy` for that scenario
    accuracy_by_scenario: dict[str, tuple[AccuracyTarget, ...]] = field(default_factory=dict)
    # scenario -> accuracy sample count replacing `dataset_size` for that scenario
    dataset_size_by_scenario: dict[str, int] = field(default_factory=dict)
    # LoadGen model key per scenario where it differs (Interactive runs as LoadGen's
    # Server scenario under a "-interactive" key)
    loadgen_model_by_scenario: dict[str, str] = field(default_factory=dict)
    # what LoadGen's built-in mlperf.conf sets (None: not set; 0: the whole data set)
    loadgen_performance_sample_count: int | None = None
    min_query_count: dict[str, int] = field(default_factory=dict)  # scenario -> minimum
    # scenario -> {"ttft": ms, "tpot": ms}: 99th-percentile token latency bounds (LLMs)
    token_latency_limits_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    min_duration_applies: bool = True  # False: a fixed single pass (e2e-rag)
    endpoints_allowed: bool = False  # may be submitted from MLCommons Endpoints logs
    # accuracy/<dir>/ must hold these file stems (e.g. sample images), per the round
    accuracy_extra_files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def accuracy_for(self, scenario: str | None = None) -> tuple[AccuracyTarget, ...]:
        if scenario is not None and scenario in self.accuracy_by_scenario:
            return self.accuracy_by_scenario[scenario]
        return self.accuracy

    def dataset_size_for(self, scenario: str | None = None) -> int:
        if scenario is not None and scenario in self.dataset_size_by_scenario:
            return self.dataset_size_by_scenario[scenario]
        return self.dataset_size

    def loadgen_model_for(self, scenario: str | None = None) -> str:
        if scenario is not None and scenario in self.loadgen_model_by_scenario:
            return self.loadgen_model_by_scenario[scenario]
        return self.loadgen_model


class SystemDescriptionRules(Struct, frozen=True):
    """What `systems/<system>.json` must hold."""

    required_keys: tuple[str, ...]
    non_empty_keys: tuple[str, ...]  # must be truthy
    status_values: tuple[str, ...]  # compared after lower-casing
    system_type_values: tuple[str, ...]  # compared exactly
    network_flag_key: str = "is_network"
    network_required_keys: tuple[str, ...] = ()  # required when the flag is truthy
    network_sut_name_substring: str = ""  # the LoadGen sut_name of a network SUT holds it
    integer_keys: tuple[str, ...] = ()  # converted with int() by the results table
    source: str = ""


class EndpointsRules(Struct, frozen=True):
    """How a round reads a result of the MLCommons endpoints harness (no LoadGen logs): the
    files of its scenario folder, and where each LoadGen key the checks read is found in
    them (check/endpoints_log.py applies these tables)."""

    performance_file: str  # relative to the scenario folder
    accuracy_file: str
    config_files: tuple[str, ...]  # the first that exists is read
    keys: tuple[tuple[str, str], ...]  # (dotted path, LoadGen key), in the official order
    json_fallback: dict[str, str]  # dotted path -> the path tried next in the JSON file
    config_paths: dict[str, str]  # dotted path -> its path in the configuration
    inferred_keys: dict[str, str]  # LoadGen key -> the key whose value it takes when missing
    result_keys: dict[str, str]  # scenario -> the LoadGen key of its value
    # the LoadGen key of the value of a result in Tokens/s, whatever its scenario ("": result_keys)
    token_result_key: str
    accuracy_target_benchmarks: frozenset[str]  # whose score is held to the accuracy target
    audit_files: dict[str, str]  # compliance test -> the name in audit/audit_<name>.json
    required_audits: frozenset[str]  # tests whose audit file must be there (if the benchmark has them)
    source: str = ""


RESULTS_FOLDER = "results/{system}/{benchmark}/{scenario}"  # a result's folder, relative to its submitter's


class ResultLayout(Struct, frozen=True):
    """Where a result's files are, relative to its submitter folder: `{system}`,
    `{benchmark}` and `{scenario}` stand for the folder names of its results/ path.

    v6.x keeps them all in the result's folder; v5.x kept the measurements (README.md,
    user.conf, the measurements JSON) and the compliance tests in trees of their own
    beside results/, and the code in code/ rather than src/."""

    measurements: str = RESULTS_FOLDER
    compliance: str = RESULTS_FOLDER
    # the measurements JSON: a fixed name, or "{system}*.json" (the official lookup: the
    # first .json file, by name, whose name starts with the system's; check/measurements.py)
    measurements_json: str = "measurements.json"
    src: str = "src"
    source: str = ""  # where the rules say so: not part of the layout (__eq__)

    def _placement(self) -> tuple[str, str, str, str]:
        return self.measurements, self.compliance, self.measurements_json, self.src

    def __eq__(self, other: object) -> bool:
        """Two rounds' same layout is the same layout, whatever each cites."""
        return isinstance(other, ResultLayout) and self._placement() == other._placement()

    def __hash__(self) -> int:
        return hash(self._placement())

    def _dir(self, template: str, result_dir: Path) -> Path:
        # result_dir is <submitter>/results/<system>/<benchmark>/<scenario>
        return result_dir.parents[3] / template.format(
            system=result_dir.parents[1].name, benchmark=result_dir.parent.name, scenario=result_dir.name)

    def measurements_dir(self, result_dir: Path) -> Path:
        return self._dir(self.measurements, result_dir)

    def compliance_dir(self, result_dir: Path) -> Path:
        return self._dir(self.compliance, result_dir)

    @property
    def apart(self) -> bool:
        """Whether a result's measurements or compliance tests lie outside its results/ folder."""
        return RESULTS_FOLDER not in {self.measurements, self.compliance} or self.measurements != self.compliance

    @property
    def submitter_entries(self) -> frozenset[str]:
        """The top-level folders of a submitter that this layout adds to results/ and systems/."""
        return frozenset(path.split("/", 1)[0] for path in (self.measurements, self.compliance, self.src))


class Rules(Struct, frozen=True):
    round: str
    source_repo: str
    source_commit: str
    min_duration_ms: int
    seeds: dict[str, int]  # qsl_rng_seed, sample_index_rng_seed, schedule_rng_seed
    loadgen_version: str  # the mlcommons-loadgen release that carries these seeds
    benchmarks: dict[str, Benchmark]
    audit_tests: dict[str, AuditTest]
    sources: dict[str, str] = field(default_factory=dict)
    system_description: SystemDescriptionRules | None = None
    measurements_keys: tuple[str, ...] = ()  # measurements.json keys, all non-empty
    # LLM benchmarks: their logs must carry token latencies (use_token_latencies)
    llm_benchmarks: frozenset[str] = frozenset()
    # folder name -> benchmark: names the round's configuration maps (`resnet50` -> `resnet`)
    benchmark_aliases: dict[str, str] = field(default_factory=dict)
    # (substring, benchmark): the official guess for a folder nothing else names, in order
    benchmark_guesses: tuple[tuple[str, str], ...] = ()
    # folder scenario -> scenarios whose log may stand for it, on `inferred_system_type` systems
    inferred_scenarios: dict[str, tuple[str, ...]] = field(default_factory=dict)
    inferred_system_type: str = ""
    # what the official summary CSV reports: benchmark -> log scenario -> detail-log key
    # (where not the scenario's own), benchmarks with latencies in seconds, and
    # benchmark -> folder scenario -> unit (where not the scenario's default)
    result_keys: dict[str, dict[str, str]] = field(default_factory=dict)
    latency_in_seconds: frozenset[str] = frozenset()
    result_units: dict[str, dict[str, str]] = field(default_factory=dict)
    # systems/<file> describing a power system's supplies ("{system}" stands for its id);
    # "" where the round has none
    nameplate_power_file: str = ""
    # a power result's file lists: run_1/ and ranging/ hold exactly `power_run_files`
    # (`power_run_optional_files` allowed), performance/power/ exactly `power_log_files`;
    # `power_optional_files` may be in any of them
    power_run_files: tuple[str, ...] = ()
    power_run_optional_files: tuple[str, ...] = ()
    power_log_files: tuple[str, ...] = ()
    power_optional_files: tuple[str, ...] = ()
    # None: the round has no endpoints harness (a result in its format is not read)
    endpoints: EndpointsRules | None = None
    layout: ResultLayout = ResultLayout()
    # a past round whose trees this tool checks, and whose runs it cannot make (its
    # images carry the current round's LoadGen and seeds): no manifest may name it
    check_only: bool = False

    def may_infer(self, folder_scenario: str, log_scenario: str, system_type: str | None) -> bool:
        """Whether a `log_scenario` run may stand for a `folder_scenario` result."""
        types = [t.strip() for t in (system_type or "").split(",")]
        return self.inferred_system_type in types and log_scenario in self.inferred_scenarios.get(folder_scenario, ())

    def benchmark_for_folder(self, name: str, mapping: dict[str, str] | None = None) -> str | None:
        """The benchmark a results/<system>/<folder> stands for, in the official order:
        the benchmark's own name, the round's aliases, the open submitter's mapping, then
        the round's guess by substring (mapped again by the aliases)."""
        if name in self.benchmarks:
            return name
        if name in self.benchmark_aliases:
            return self.benchmark_aliases[name]
        if name in (mapping or {}):
            return (mapping or {})[name]
        guess = next((target for part, target in self.benchmark_guesses if part in name), None)
        if guess is None:
            return None
        guess = self.benchmark_aliases.get(guess, guess)
        return guess if guess in self.benchmarks else None

    def benchmark(self, name: str) -> Benchmark:
        try:
            return self.benchmarks[name]
        except KeyError:
            raise UsageError(
                f"benchmark {name!r} is not part of round {self.round}",
                hint=f"known: {', '.join(sorted(self.benchmarks))}",
            ) from None

    def required_scenarios(self, benchmark: str, system_type: str) -> tuple[str, ...]:
        """Scenarios a closed submission must contain for one system type.

        The checker keeps a separate table for `datacenter,edge` systems (it is not
        the union of the two); the union is only the fallback for data without one.
        """
        bench = self.benchmark(benchmark)
        key = _table_key(system_type)
        if key in bench.required_scenarios:
            return bench.required_scenarios[key]
        out: list[str] = []
        for t in key.split(","):
            for s in bench.required_scenarios.get(t, ()):
                if s not in out:
                    out.append(s)
        return tuple(out)

    def one_of_scenarios(self, benchmark: str, system_type: str) -> tuple[tuple[str, ...], ...]:
        """Groups of which a closed submission must contain at least one scenario."""
        bench = self.benchmark(benchmark)
        key = _table_key(system_type)
        if key in bench.one_of_scenarios:
            return bench.one_of_scenarios[key]
        groups: list[tuple[str, ...]] = []
        if key not in bench.required_scenarios:
            for t in key.split(","):
                groups.extend(g for g in bench.one_of_scenarios.get(t, ()) if g not in groups)
        return tuple(groups)

    def closed_scenarios(self, benchmark: str, system_type: str) -> tuple[str, ...]:
        """Every scenario a closed submission may contain (required + optional)."""
        bench = self.benchmark(benchmark)
        key = _table_key(system_type)
        out = list(self.required_scenarios(benchmark, system_type))
        optional = bench.optional_scenarios.get(key)
        if optional is None and key not in bench.required_scenarios:
            optional = tuple(s for t in key.split(",") for s in bench.optional_scenarios.get(t, ()))
        for s in optional or ():
            if s not in out:
                out.append(s)
        return tuple(out)

    def offered(self, benchmark: str, system_type: str) -> bool:
        """Whether the round's closed tables list the benchmark for this system type."""
        return _table_key(system_type) in self.benchmark(benchmark).required_scenarios


# The rules files sit beside this module in every install (a wheel and an editable one);
# importlib.resources would cost ~5 ms of every command to say the same.
_HERE = Path(__file__).resolve().parent


def available_rounds() -> list[str]:
    files = _HERE.iterdir()
    return sorted(f.name[:-5] for f in files if f.name.startswith("v") and f.name.endswith(".yaml"))


def _table_key(system_type: str) -> str:
    """`edge,datacenter` and `datacenter,edge` share one table in the checker."""
    types = sorted({t.strip() for t in system_type.split(",") if t.strip()})
    return ",".join(types)


def _tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v or ())


def _accuracy(raw: Any) -> tuple[AccuracyTarget, ...]:
    return tuple(
        AccuracyTarget(
            metric=a["metric"],
            pattern=a["pattern"],
            target=float(a["target"]),
            upper=None if a.get("upper") is None else float(a["upper"]),
        )
        for a in raw or ()
    )


def _endpoints(raw: Any) -> EndpointsRules | None:
    if not raw:
        return None
    files = raw["files"]
    return EndpointsRules(
        performance_file=str(files["performance"]),
        accuracy_file=str(files["accuracy"]),
        config_files=tuple(str(name) for name in files["config"]),
        keys=tuple((str(path), str(key)) for path, key in raw["keys"].items()),
        json_fallback={str(k): str(v) for k, v in (raw.get("json_fallback") or {}).items()},
        config_paths={str(k): str(v) for k, v in (raw.get("config_paths") or {}).items()},
        inferred_keys={str(k): str(v) for k, v in (raw.get("inferred_keys") or {}).items()},
        result_keys={str(k): str(v) for k, v in raw["result_keys"].items()},
        token_result_key=str(raw.get("token_result_key", "")),
        accuracy_target_benchmarks=frozenset(raw.get("accuracy_target_benchmarks") or ()),
        audit_files={str(k): str(v) for k, v in (raw.get("audit_files") or {}).items()},
        required_audits=frozenset(raw.get("required_audits") or ()),
        source=str(raw.get("source", "")),
    )


def _system_description(raw: Any) -> SystemDescriptionRules | None:
    if not raw:
        return None
    return SystemDescriptionRules(
        required_keys=_tuple(raw["required_keys"]),
        non_empty_keys=_tuple(raw["non_empty_keys"]),
        status_values=_tuple(raw["status_values"]),
        system_type_values=_tuple(raw["system_type_values"]),
        network_flag_key=str(raw.get("network_flag_key", "is_network")),
        network_required_keys=_tuple(raw.get("network_required_keys")),
        network_sut_name_substring=str(raw.get("network_sut_name_substring", "")),
        integer_keys=_tuple(raw.get("integer_keys")),
        source=str(raw.get("source", "")),
    )


def _benchmark(name: str, raw: dict[str, Any]) -> Benchmark:
    return Benchmark(
        name=name,
        loadgen_model=raw["loadgen_model"],
        required_scenarios={k: _tuple(v) for k, v in (raw.get("required_scenarios") or {}).items()},
        one_of_scenarios={
            k: tuple(_tuple(g) for g in v) for k, v in (raw.get("one_of_scenarios") or {}).items()
        },
        allowed_scenarios=_tuple(raw["allowed_scenarios"]),
        system_types=_tuple(raw["system_types"]),
        compliance_tests=_tuple(raw.get("compliance_tests")),
        accuracy=_accuracy(raw.get("accuracy")),
        performance_sample_count=int(raw["performance_sample_count"]),
        dataset_size=int(raw["dataset_size"]),
        offline_min_samples_per_query=raw.get("offline_min_samples_per_query"),
        server_target_latency_ms=raw.get("server_target_latency_ms"),
        interactive_target_latency_ms=raw.get("interactive_target_latency_ms"),
        sources=dict(raw.get("sources") or {}),
        optional_scenarios={
            k: _tuple(v) for k, v in (raw.get("optional_scenarios") or {}).items()
        },
        accuracy_by_scenario={
            k: _accuracy(v) for k, v in (raw.get("accuracy_by_scenario") or {}).items()
        },
        dataset_size_by_scenario={
            k: int(v) for k, v in (raw.get("dataset_size_by_scenario") or {}).items()
        },
        loadgen_model_by_scenario=dict(raw.get("loadgen_model_by_scenario") or {}),
        loadgen_performance_sample_count=raw.get("loadgen_performance_sample_count"),
        min_query_count={k: int(v) for k, v in (raw.get("min_query_count") or {}).items()},
        token_latency_limits_ms={
            k: {m: float(x) for m, x in v.items()}
            for k, v in (raw.get("token_latency_limits_ms") or {}).items()
        },
        min_duration_applies=bool(raw.get("min_duration_applies", True)),
        endpoints_allowed=bool(raw.get("endpoints_allowed", False)),
        accuracy_extra_files={
            k: tuple(str(x) for x in v)
            for k, v in (raw.get("accuracy_extra_files") or {}).items()
        },
    )


def _parse_yaml(text: bytes) -> Any:
    # Our own rules data, so the C parser's speed without its positions is what fits: 8x
    # faster than the pure-Python one on v6.1.yaml. Imported here: a cached parse needs no YAML.
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def load_rules(round_name: str) -> Rules:
    rounds = available_rounds()
    if round_name not in rounds:
        older = [r for r in rounds_without_rules() if r == round_name]
        hint = f"rounds known: {', '.join(rounds)}"
        if older:
            hint += f"; for {round_name}, use the official checker (submission_checker/main.py --version {round_name})"
        raise UsageError(f"no rules for round {round_name!r}", hint=hint)
    text = (_HERE / f"{round_name}.yaml").read_bytes()
    raw = parsed(round_name, text, _parse_yaml)
    return Rules(
        round=raw["round"],
        source_repo=raw["source"]["repo"],
        source_commit=raw["source"]["commit"],
        min_duration_ms=int(raw["min_duration_ms"]),
        seeds={k: int(v) for k, v in raw["seeds"].items()},
        loadgen_version=str(raw["loadgen_version"]),
        benchmarks={n: _benchmark(n, b) for n, b in raw["benchmarks"].items()},
        audit_tests={
            n: AuditTest(
                name=n,
                kind=t["kind"],
                settings={k: str(v) for k, v in (t.get("settings") or {}).items()},
                per_benchmark={
                    b: {k: str(v) for k, v in s.items()}
                    for b, s in (t.get("per_benchmark") or {}).items()
                },
                source=t.get("source", ""),
                required_files=_tuple(t.get("required_files")),
                performance_run_checked=bool(t.get("performance_run_checked", False)),
                accuracy_delta_percent={
                    b: {m: float(x) for m, x in d.items()}
                    for b, d in (t.get("accuracy_delta_percent") or {}).items()
                },
                verify={str(f): str(how) for f, how in (t.get("verify") or {}).items()},
            )
            for n, t in raw["audit_tests"].items()
        },
        sources=dict(raw.get("sources") or {}),
        system_description=_system_description(raw.get("system_description")),
        measurements_keys=_tuple(raw.get("measurements_keys")),
        llm_benchmarks=frozenset(raw.get("llm_benchmarks") or ()),
        benchmark_guesses=tuple((str(part), str(target)) for part, target in raw.get("benchmark_guesses") or ()),
        benchmark_aliases={
            k: v for k, v in (raw.get("benchmark_aliases") or {}).items() if v in raw["benchmarks"]
        },
        inferred_scenarios={k: _tuple(v) for k, v in (raw.get("inferred_scenarios") or {}).items()},
        inferred_system_type=str(raw.get("inferred_system_type") or ""),
        result_keys=_nested_str(raw.get("result_keys")),
        latency_in_seconds=frozenset(raw.get("latency_in_seconds") or ()),
        result_units=_nested_str(raw.get("result_units")),
        nameplate_power_file=str(raw.get("nameplate_power_file") or ""),
        power_run_files=_tuple((raw.get("power_files") or {}).get("run")),
        power_run_optional_files=_tuple((raw.get("power_files") or {}).get("run_optional")),
        power_log_files=_tuple((raw.get("power_files") or {}).get("power")),
        power_optional_files=_tuple((raw.get("power_files") or {}).get("optional")),
        endpoints=_endpoints(raw.get("endpoints")),
        layout=_layout(raw.get("layout")),
        check_only=bool(raw.get("check_only", False)),
    )


def _layout(raw: Any) -> ResultLayout:
    if not raw:
        return ResultLayout()
    return ResultLayout(**{k: str(v) for k, v in raw.items()})


_WITHOUT_RULES = "rounds_without_rules.yaml"


@cache
def rounds_without_rules() -> dict[str, dict[str, int]]:
    """Rounds known only by their LoadGen seeds (round -> seeds): a tree run for one of them
    is named as such, not judged by the rules of a round it was not run for."""
    text = (_HERE / _WITHOUT_RULES).read_bytes()
    raw = parsed("rounds_without_rules", text, _parse_yaml)
    return {str(r): {k: int(v) for k, v in seeds.items()} for r, seeds in raw["seeds"].items()}


def seeds_by_round() -> dict[str, dict[str, int]]:
    """The LoadGen seeds of every round this tool knows, with rules or without."""
    return {**rounds_without_rules(), **{r: load_rules(r).seeds for r in available_rounds()}}


def _nested_str(raw: Any) -> dict[str, dict[str, str]]:
    return {str(k): {str(s): str(v) for s, v in (d or {}).items()} for k, d in (raw or {}).items()}
