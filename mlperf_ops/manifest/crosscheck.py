"""Tier 2 of manifest validation: cross-checks against the round's rules and the project.

Runs only on a document that passed the schema. Every problem is collected; none
stops the others. Paths point into the YAML so errors land on the right line.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mlperf_ops.core.errors import Problem
from mlperf_ops.stacks.images import list_targets
from mlperf_ops.manifest.honesty import harness_problems
from mlperf_ops.manifest.llm_server import server_problems
from mlperf_ops.manifest.loadgen_values import value_problem
from mlperf_ops.manifest.model import Manifest
from mlperf_ops.manifest.names import case_key, path_name_problem
from mlperf_ops.manifest.schema import did_you_mean
from mlperf_ops.manifest.source import SourceDoc
from mlperf_ops.manifest.pipeline import list_profiles
from mlperf_ops.rules import SCENARIOS, Rules, available_rounds, load_rules

# Scenario → the system types it exists for, the suite-wide MLPerf Inference rule.
SCENARIO_SYSTEM_TYPES = {
    "SingleStream": ("edge",),
    "MultiStream": ("edge",),
    "Offline": ("edge", "datacenter"),
    "Server": ("datacenter",),
    "Interactive": ("datacenter",),
}

@cache
def loadgen_keys() -> tuple[frozenset[str], dict[str, str]]:
    text = resources.files("mlperf_ops.rules").joinpath("loadgen_keys.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return frozenset(raw["tunable"]), dict(raw["reserved"])


def _scenario_allowed(rules: Rules, official: str, scenario: str, system_type: str, division: str) -> bool:
    bench = rules.benchmarks[official]
    if scenario not in bench.allowed_scenarios:
        return False
    if division in ("closed", "network"):
        return scenario in rules.closed_scenarios(official, system_type)
    types = system_type.split(",")
    return any(t in SCENARIO_SYSTEM_TYPES.get(scenario, ()) for t in types)


def crosscheck(doc: SourceDoc, manifest: Manifest, project_root: Path) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    raw: dict[str, Any] = doc.data

    rounds = available_rounds()
    if manifest.round not in rounds:
        add(doc.problem(("round",), f"no rules for round {manifest.round!r}",
                        did_you_mean(manifest.round, rounds) or f"rounds known: {', '.join(rounds)}"))
        return problems
    rules = load_rules(manifest.round)
    if rules.check_only:
        runnable = [r for r in rounds if not load_rules(r).check_only]
        add(doc.problem(("round",), f"round {manifest.round} is known for checking its trees only: its submissions "
                        "are closed, and this tool's images carry another round's LoadGen and seeds",
                        f"submit to {runnable[-1]}; check a {manifest.round} tree with "
                        f"`mlperf-ops check TREE --round {manifest.round}`"))
        return problems

    profiles = list_profiles(project_root)
    if manifest.pipeline not in profiles:
        add(doc.problem(("pipeline",), f"pipeline profile {manifest.pipeline!r} not found under pipelines/",
                        did_you_mean(manifest.pipeline, profiles) or f"profiles: {', '.join(profiles) or 'none'}"))

    images_dir = project_root / "images"
    targets = list_targets(images_dir) if images_dir.is_dir() else []
    tunable, reserved = loadgen_keys()
    strict = manifest.division in ("closed", "network")
    seen_ids: dict[str, int] = {}

    unsafe = path_name_problem(manifest.submitter)
    if unsafe:
        add(doc.problem(("submitter",), f"submitter {unsafe}", "the submitter names a folder in the tree"))

    for si, system in enumerate(manifest.systems):
        spath: tuple[str | int, ...] = ("systems", si)
        unsafe = path_name_problem(system.id)
        if unsafe:
            add(doc.problem((*spath, "id"), f"system id {unsafe}", "the id names folders and files in the tree"))
        elif case_key(system.id) in seen_ids:
            other = seen_ids[case_key(system.id)]
            same = manifest.systems[other].id == system.id
            add(doc.problem((*spath, "id"), f"duplicate system id {system.id!r} (also systems[{other}]"
                            + ("" if same else f" as {manifest.systems[other].id!r}, differing only in case") + ")",
                            "each system needs its own id: it names systems/<id>.json in the tree"
                            + ("" if same else ", and case-insensitive file systems see one folder")))
        else:
            seen_ids[case_key(system.id)] = si

        image_uses: list[tuple[str, tuple[str | int, ...]]] = [(system.image, (*spath, "image"))]
        image_uses += [(b.image, (*spath, "benchmarks", i, "image")) for i, b in enumerate(system.benchmarks) if b.image]
        for image, where in image_uses:
            if image not in targets:
                add(doc.problem(where, f"image target {image!r} does not exist under images/",
                                did_you_mean(image, targets) or f"targets: {', '.join(targets) or 'none'}"))

        description = system.description_dict()
        if system.accelerator is None:
            for key in ("accelerators_per_node", "accelerator_model_name"):
                value = description.get(key)
                if value not in (None, "", "0", 0, "N/A", "None"):
                    add(doc.problem((*spath, "description", key),
                                    f"CPU system declares {key}={value!r} but has no 'accelerator'",
                                    "add an 'accelerator:' block (vendor, model, count) or remove this field"))
        elif system.image == "cpu":
            add(doc.problem((*spath, "accelerator"),
                            f"system declares {system.accelerator.count} {system.accelerator.vendor} accelerator(s) "
                            "but runs in the 'cpu' image",
                            "use an image with that runtime, e.g. nvidia-cuda or rocm", key=True))

        seen_bench: dict[str, int] = {}
        for bi, bench in enumerate(system.benchmarks):
            bpath = (*spath, "benchmarks", bi)
            unsafe = path_name_problem(bench.name)
            if unsafe:
                add(doc.problem((*bpath, "name"), f"benchmark name {unsafe}", "the name is a folder in results/"))
                continue
            if case_key(bench.name) in seen_bench:
                add(doc.problem((*bpath, "name"), f"benchmark {bench.name!r} listed twice in this system"
                                + (" (names differing only in case are one folder)"
                                   if bench.name not in {b.name for b in system.benchmarks[:bi]} else ""),
                                "merge the two entries"))
                continue
            seen_bench[case_key(bench.name)] = bi
            official_names = sorted(rules.benchmarks)
            if bench.custom:
                if strict:
                    add(doc.problem((*bpath, "maps_to"),
                                    f"custom model {bench.name!r} in the {manifest.division} division",
                                    "custom models are allowed only in the open division; use the official benchmark name"))
                    continue
                if bench.official not in rules.benchmarks:
                    add(doc.problem((*bpath, "maps_to"), f"{bench.official!r} is not a benchmark of {rules.round}",
                                    did_you_mean(bench.official, official_names)))
                    continue
            elif bench.name not in rules.benchmarks:
                hint = did_you_mean(bench.name, official_names)
                if manifest.division == "open":
                    hint = (hint + " or " if hint else "") + "add 'maps_to: <official benchmark>' for a custom model"
                add(doc.problem((*bpath, "name"), f"unknown benchmark {bench.name!r} in round {rules.round}", hint))
                continue
            rb = rules.benchmarks[bench.official]

            system_types = manifest.system_type.split(",")
            offered = rules.offered(bench.official, manifest.system_type) if strict else \
                any(t in rb.system_types for t in system_types)
            if not offered:
                add(doc.problem((*bpath, "name"),
                                f"{bench.official!r} is not a {manifest.system_type} benchmark in {rules.round}",
                                f"it exists for: {', '.join(rb.system_types)}"))
                continue
            problems.extend(harness_problems(doc, manifest, images_dir, targets, si, bi))
            problems.extend(server_problems(doc, manifest, si, bi))

            declared = [s.scenario for s in bench.scenarios]
            for scenario in bench.scenarios:
                sc_path = (*bpath, "scenarios", scenario.scenario)
                if scenario.scenario not in SCENARIOS:
                    add(doc.problem(sc_path, f"unknown scenario {scenario.scenario!r}",
                                    did_you_mean(scenario.scenario, SCENARIOS) or f"scenarios: {', '.join(SCENARIOS)}",
                                    key=True))
                    continue
                if not _scenario_allowed(rules, bench.official, scenario.scenario, manifest.system_type, manifest.division):
                    allowed = [s for s in rb.allowed_scenarios
                               if _scenario_allowed(rules, bench.official, s, manifest.system_type, manifest.division)]
                    add(doc.problem(sc_path,
                                    f"scenario {scenario.scenario} is not allowed for {bench.official} on "
                                    f"{manifest.system_type} systems",
                                    f"allowed: {', '.join(allowed) or 'none'}", key=True))
                for key, value in scenario.settings:
                    problems.extend(_setting_problem(doc, (*sc_path, key), key, value, tunable, reserved))
            for key, value in bench.loadgen:
                problems.extend(_setting_problem(doc, (*bpath, "loadgen", key), key, value, tunable, reserved))

            if strict:
                for required in rules.required_scenarios(bench.official, manifest.system_type):
                    if required not in declared:
                        add(doc.problem((*bpath, "scenarios"),
                                        f"the {manifest.division} division requires scenario {required} for "
                                        f"{bench.official} on {manifest.system_type} systems",
                                        f"add '{required}:' under scenarios", key=True))
                for group in rules.one_of_scenarios(bench.official, manifest.system_type):
                    if not any(s in declared for s in group):
                        add(doc.problem((*bpath, "scenarios"),
                                        f"{bench.official} on {manifest.system_type} systems needs at least one of "
                                        f"{', '.join(group)}",
                                        f"add '{group[0]}:' under scenarios", key=True))

            wanted = bench.compliance if bench.compliance is not None else rb.compliance_tests
            needs_eos = [t for t in wanted if t in rb.compliance_tests and t in rules.audit_tests
                         and rules.audit_tests[t].kind == "output_consistency"]
            if needs_eos and bench.eos_token_id is None:
                add(doc.problem((*bpath, "name"), f"{needs_eos[0]} checks that outputs end with the tokenizer's "
                                f"end-of-sequence token, but {bench.name!r} has no 'eos_token_id'",
                                "add 'eos_token_id: <id>' (2 for Llama 2, 128009 for Llama 3.1 instruct)"))

            if bench.compliance is not None:
                for ci, test in enumerate(bench.compliance):
                    cpath = (*bpath, "compliance", ci)
                    if test not in rules.audit_tests:
                        add(doc.problem(cpath, f"unknown compliance test {test!r}",
                                        did_you_mean(test, sorted(rules.audit_tests))))
                    elif test not in rb.compliance_tests:
                        add(doc.problem(cpath, f"{test} does not apply to {bench.official}",
                                        f"{bench.official} uses: {', '.join(rb.compliance_tests) or 'none'}"))
                if strict:
                    for test in rb.compliance_tests:
                        if test not in bench.compliance:
                            add(doc.problem((*bpath, "compliance"),
                                            f"the {manifest.division} division requires {test} for {bench.official}",
                                            "remove 'compliance:' to run what the round requires", key=True))
    return problems


def _setting_problem(doc: SourceDoc, path: tuple[str | int, ...], key: str, value: object,
                     tunable: frozenset[str], reserved: dict[str, str]) -> list[Problem]:
    if key in tunable:
        problem = value_problem(key, value) if isinstance(value, (int, float)) else None
        if problem:
            return [doc.problem(path, f"LoadGen setting {key!r} {problem}", "write a plain number, e.g. 1000")]
        return []
    if key in reserved:
        return [doc.problem(path, f"LoadGen setting {key!r} cannot be set in a manifest: {reserved[key]}", None, key=True)]
    return [doc.problem(path, f"unknown LoadGen setting {key!r}",
                        did_you_mean(key, sorted(tunable)) or "see mlperf_ops/rules/loadgen_keys.yaml", key=True)]
