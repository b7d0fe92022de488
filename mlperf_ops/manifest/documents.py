"""Tier 3 of manifest validation: the documents the manifest will put in the tree.

`systems/<id>.json` is the host probe merged with the software pinned in the system's
images and the fields the manifest declares; each scenario's `measurements.json` comes
from its benchmark's `measurements:`. The official checker rejects a submission whose
documents lack a required key or a meaningful value, so this tier builds them now and
reports what is wrong at the manifest line to fix, before hours of runs. `assemble`
writes the very same documents.

It runs only on a manifest that passed tiers 1 and 2: the document depends on the
division, the system type and the round being right. The host facts are injected
(`HostFacts`), which keeps this module free of probing and of the state directory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlperf_ops.check.measurements import measurements_issues
from mlperf_ops.core.errors import Problem
from mlperf_ops.stacks.images import load_target, pinned_versions
from mlperf_ops.manifest.model import BenchmarkSpec, Manifest, SystemSpec
from mlperf_ops.manifest.source import SourceDoc
from mlperf_ops.manifest.probe_check import accepted
from mlperf_ops.rules import Rules
from mlperf_ops.check.system_json import keyed_system_json_findings
from mlperf_ops.manifest.sysdesc import SOFTWARE_KEYS, build_system_json, software_facts

# system id -> what the machine its runs happen on tells about itself (probe.probe_host).
HostFacts = Callable[[str], Mapping[str, str]]

# Keys the manifest sets outside `description`: declaring them there too is a conflict.
_TOP_LEVEL_KEYS = ("division", "submitter", "status", "system_type")

_MEASUREMENT_EXAMPLES = {
    "input_data_types": "fp32",
    "weight_data_types": "int8",
    "retraining": '"no"',
    "starting_weights_filename": "resnet50_v1.onnx",
    "weight_transformations": "quantization",
}

# Keys the manifest's accelerator block fills, and the block field that fills each.
_ACCELERATOR_BLOCK_KEYS = {
    "accelerator_model_name": "model",
    "accelerators_per_node": "count",
    "accelerator_memory_capacity": "memory (e.g. memory: 80 GB)",
}

# What a typical value looks like, for hints about keys nothing fills.
_EXAMPLES = {
    "cooling": "air",
    "host_networking": "N/A (single node)",
    "host_networking_topology": "N/A",
    "host_network_card_count": '"0"',
    "host_memory_configuration": "8x 32 GB DDR5-4800",
    "host_processor_interconnect": "N/A",
    "host_storage_type": "NVMe SSD",
    "accelerator_host_interconnect": "PCIe Gen5 x16",
    "accelerator_interconnect": "NVLink",
    "accelerator_interconnect_topology": "fully connected",
    "accelerator_memory_configuration": "HBM3",
    "framework": "onnxruntime 1.20.0",
}

# What to do about a declared value, by the checker rule it breaks.
_DECLARED_HINTS = {
    "system.empty-key": 'give it a meaningful value ("N/A" where it does not apply)',
    "system.not-integer": 'write a whole number, e.g. "1"',
    "system.bad-value-type": "write a plain string",
    "system.nested-value": "write a plain string",
}


def image_software(images_dir: Path, system: SystemSpec) -> dict[str, str]:
    """Python and framework versions pinned in the images the system's benchmarks run in."""
    names = sorted({system.image} | {b.image for b in system.benchmarks if b.image})
    targets = [load_target(images_dir, name) for name in names]
    return software_facts((t.python, pinned_versions(t)) for t in targets)


def system_document(
    manifest: Manifest, system: SystemSpec, rules: Rules, images_dir: Path, probed: Mapping[str, str]
) -> dict[str, Any]:
    """`systems/<id>.json`: host facts < image software < derived < declared < manifest identity."""
    # Software facts of an older probe described the controller, not the image: drop them.
    facts = {k: v for k, v in probed.items() if k not in SOFTWARE_KEYS}
    facts.update(image_software(images_dir, system))
    acc = system.accelerator
    model, count, memory = (acc.model, acc.count, acc.memory) if acc else (None, 0, None)
    # `apply --accept-probe` recorded what the machine really is: it wins over the manifest.
    taken = accepted(probed)
    declared = {k: v for k, v in system.description_dict().items() if k not in taken}
    if taken & {"accelerator_vendor", "accelerator_model_name", "accelerators_per_node"}:
        count = int(probed.get("accelerators_per_node") or 0)
        model, memory = probed.get("accelerator_model_name"), probed.get("accelerator_memory_capacity")
    return build_system_json(
        facts, declared, division=manifest.division, submitter=manifest.submitter,
        status=manifest.status, system_type=manifest.system_type, system_name=system.name or system.id,
        accelerator_model=model, accelerator_count=count, accelerator_memory=memory, rules=rules,
    )


def measurements_document(bench: BenchmarkSpec) -> dict[str, Any]:
    """A scenario's `measurements.json`: the benchmark's declared measurements."""
    doc: dict[str, Any] = dict(bench.measurements)
    if bench.model is not None:
        doc.setdefault("starting_weights_filename", bench.model.name or Path(bench.model.path).name)
    return doc


def document_problems(
    doc: SourceDoc, manifest: Manifest, rules: Rules, images_dir: Path, host_facts: HostFacts
) -> list[Problem]:
    """Every problem of every document the manifest produces, at the manifest line to change."""
    problems = _description_problems(doc, manifest, rules, images_dir, host_facts)
    problems += _measurements_problems(doc, manifest, rules)
    return sorted(problems, key=lambda p: (p.line, p.col))


def _measurements_problems(doc: SourceDoc, manifest: Manifest, rules: Rules) -> list[Problem]:
    problems: list[Problem] = []
    for si, system in enumerate(manifest.systems):
        for bi, bench in enumerate(system.benchmarks):
            bpath: tuple[str | int, ...] = ("systems", si, "benchmarks", bi)
            declared = dict(bench.measurements)
            for key, rule_id, message in measurements_issues(measurements_document(bench), rules):
                text = f"{system.id}/{bench.name} measurements.json: {message} [{rule_id}]"
                if key in declared:
                    problems.append(doc.problem((*bpath, "measurements", key), text,
                                                'give it a meaningful value (e.g. "no", "none", "fp32")'))
                else:
                    example = _MEASUREMENT_EXAMPLES.get(key, '"..."')
                    problems.append(doc.problem(
                        (*bpath, "measurements"), text,
                        f"declare it under systems[{si}].benchmarks[{bi}].measurements, e.g. {key}: {example}",
                        key=True))
    return problems


def _description_problems(
    doc: SourceDoc, manifest: Manifest, rules: Rules, images_dir: Path, host_facts: HostFacts
) -> list[Problem]:
    problems: list[Problem] = []
    sd = rules.system_description
    known = frozenset((sd.required_keys + sd.network_required_keys) if sd else ())
    for si, system in enumerate(manifest.systems):
        spath: tuple[str | int, ...] = ("systems", si)
        declared = system.description_dict()
        where = f"systems[{si}].description"

        # Declarations the builder would silently override or drop: say so instead.
        for key in _TOP_LEVEL_KEYS:
            if key in declared and str(declared[key]).strip().lower() != str(getattr(manifest, key)).lower():
                problems.append(doc.problem(
                    (*spath, "description", key),
                    f"declares {key}={declared[key]!r}, but the manifest's top-level {key} is "
                    f"{getattr(manifest, key)!r}", f"remove it from {where}: the top-level value is used"))
        flag = sd.network_flag_key if sd else "is_network"
        if flag in declared and manifest.division != "network":
            problems.append(doc.problem(
                (*spath, "description", flag),
                f"{flag} is only for the network division (this manifest is {manifest.division})",
                f"remove it from {where}; mlperf-ops writes {flag} itself in the network division"))

        document = system_document(manifest, system, rules, images_dir, host_facts(system.id))
        for subject, found in keyed_system_json_findings(document, rules, division=manifest.division,
                                                          submitter=manifest.submitter):
            if subject in _TOP_LEVEL_KEYS and subject not in declared:
                continue  # the schema tier already judged the top-level value
            path, hint = _locate(spath, system, declared, subject, found.rule_id, where, known)
            problems.append(doc.problem(path, f"systems/{system.id}.json: {found.message} [{found.rule_id}]",
                                        hint, key=path[-1] == "description"))
    return problems


def _locate(
    spath: tuple[str | int, ...], system: SystemSpec, declared: Mapping[str, Any], key: str | None, rule_id: str,
    where: str, known: frozenset[str],
) -> tuple[tuple[str | int, ...], str]:
    """The manifest path that decides `key`'s value, and what to do there."""
    if key is not None and key in declared:
        return (*spath, "description", key), _DECLARED_HINTS.get(rule_id, "correct this value")
    if key == "system_name":
        return (*spath, "name"), "give the system a name"
    if key in _ACCELERATOR_BLOCK_KEYS and system.accelerator is not None:
        return (*spath, "accelerator"), f"set {_ACCELERATOR_BLOCK_KEYS[key]} in the accelerator block"
    example = _EXAMPLES.get(key or "", '"..."')
    hint = (f"neither the host probe nor the image supplies it: declare it under {where}, "
            f"e.g. {key}: {example}")
    # A declared key the round does not know, spelled like this one, is probably meant as it.
    unknown = [k for k in declared if k not in known]
    typo = difflib.get_close_matches(key or "", unknown, n=1, cutoff=0.75)
    if typo:
        hint += f" (is the declared {typo[0]!r} a misspelling of it?)"
    return (*spath, "description"), hint

