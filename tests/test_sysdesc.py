"""System descriptions: probing never fails, building avoids the traps, one validator."""

from __future__ import annotations

from typing import Any

import pytest

from mlperf_ops.rules import load_rules
from mlperf_ops.check.system_json import system_json_findings
from mlperf_ops.execute.probe import probe_host
from mlperf_ops.manifest.sysdesc import build_system_json, software_facts

RULES = load_rules("v6.1")
DECLARED = {
    "host_memory_configuration": "8x 32 GB DDR5",
    "host_networking": "Ethernet 10 Gbit/s",
    "host_networking_topology": "single node",
    "host_network_card_count": 1,
    "cooling": "air",
    "host_processor_interconnect": "N/A",
}


def build(**over: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(
        division="open", submitter="ExampleOrg", status="Available", system_type="Edge",
        system_name="box", accelerator_model=None, accelerator_count=0, accelerator_memory=None,
    )
    kwargs.update(over)
    facts = probe_host() | software_facts([("3.11", {"onnxruntime": "1.32.0", "mlcommons-loadgen": "6.0.17"})])
    return build_system_json(facts, dict(DECLARED), rules=RULES, **kwargs)


def ids(doc: Any, division: str = "open", submitter: str = "ExampleOrg") -> set[str]:
    return {f.rule_id for f in system_json_findings(doc, RULES, division=division, submitter=submitter)}


def test_probe_host_reports_this_machine() -> None:
    probed = probe_host()
    assert probed.get("host_processor_model_name")
    assert int(probed["host_processor_core_count"]) >= 1
    assert probed.get("operating_system") and probed.get("kernel")
    # The benchmark's Python and frameworks are the image's (software_facts), not the controller's.
    assert not {"python", "framework", "framework_versions"} & set(probed)
    assert "accelerator_model_name" not in probed  # no GPU here, and no failure either
    assert all(isinstance(v, str) for v in probed.values())


def test_cpu_system_passes_validation_with_the_type_traps_avoided() -> None:
    doc = build()
    assert ids(doc) == set()
    assert doc["accelerators_per_node"] == "0"
    assert doc["accelerator_model_name"] == "N/A"
    assert doc["system_type"] == "edge" and doc["status"] == "available"
    assert doc["number_of_nodes"] == "1" and doc["host_network_card_count"] == "1"
    assert "is_network" not in doc
    assert set(RULES.system_description.required_keys) <= set(doc)  # type: ignore[union-attr]
    assert doc["framework"] == "onnxruntime 1.32.0"
    assert doc["other_software_stack"] == "Python 3.11, onnxruntime 1.32.0, mlcommons-loadgen 6.0.17"


def test_software_facts_name_the_most_specific_framework_of_each_image() -> None:
    facts = software_facts([
        ("3.11", {"onnxruntime-gpu": "1.23.2", "onnxruntime": "1.23.2", "mlcommons-loadgen": "6.0.17"}),
        ("3.12", {"torch": "2.5.1", "vllm": "0.6.4", "mlcommons-loadgen": "6.0.17"}),
    ])
    assert facts == {
        "python": "3.11, 3.12",
        "framework": "onnxruntime-gpu 1.23.2, vllm 0.6.4",
        "framework_versions": "onnxruntime-gpu 1.23.2, vllm 0.6.4, mlcommons-loadgen 6.0.17",
    }


def test_an_image_without_a_known_framework_leaves_framework_to_the_manifest() -> None:
    facts = software_facts([("3.11", {"numpy": "2.0.0", "mlcommons-loadgen": "6.0.17"})])
    assert "framework" not in facts
    doc = build_system_json(probe_host() | facts, dict(DECLARED), division="open", submitter="ExampleOrg",
                            status="available", system_type="edge", system_name="box", accelerator_model=None,
                            accelerator_count=0, accelerator_memory=None, rules=RULES)
    found = system_json_findings(doc, RULES, division="open", submitter="ExampleOrg")
    assert [f.message for f in found] == ["key 'framework' needs a meaningful value"]
    declared = build_system_json(probe_host() | facts, {**DECLARED, "framework": "custom C++ runtime 2.1"},
                                 division="open", submitter="ExampleOrg", status="available", system_type="edge",
                                 system_name="box", accelerator_model=None, accelerator_count=0,
                                 accelerator_memory=None, rules=RULES)
    assert system_json_findings(declared, RULES, division="open", submitter="ExampleOrg") == []


def test_declared_wins_over_probe_and_gpu_fields() -> None:
    doc = build_system_json({"host_processor_model_name": "probed"}, {"host_processor_model_name": "declared"},
                            division="network", submitter="S", status="preview", system_type="datacenter",
                            system_name="n", accelerator_model="GPU-X", accelerator_count=8,
                            accelerator_memory="80 GB", rules=RULES)
    assert doc["host_processor_model_name"] == "declared"
    assert doc["accelerators_per_node"] == "8" and doc["accelerator_model_name"] == "GPU-X"
    assert doc["is_network"] == "true"


def test_missing_declarations_are_reported_before_any_run() -> None:
    doc = build_system_json(probe_host(), {}, division="open", submitter="ExampleOrg", status="available",
                            system_type="edge", system_name="box", accelerator_model=None,
                            accelerator_count=0, accelerator_memory=None, rules=RULES)
    found = system_json_findings(doc, RULES, division="open", submitter="ExampleOrg")
    empty = {f.message.split("'")[1] for f in found if f.rule_id == "system.empty-key"}
    assert {"cooling", "host_networking", "host_memory_configuration"} <= empty


@pytest.mark.parametrize(
    "key,value,rule",
    [
        ("accelerators_per_node", 0, "system.empty-key"),
        ("system_type", "Edge", "system.bad-type"),
        ("system_type", "edge, datacenter", "system.bad-type"),
        ("status", "soon", "system.bad-status"),
        ("number_of_nodes", "1.5", "system.not-integer"),
        ("is_network", "true", "system.network-flag"),
        # "false" is no network mode, but any value asks for the network keys (as officially)
        ("is_network", "false", "system.missing-key"),
        ("cooling", "", "system.empty-key"),
        ("division", "closed", "system.division-mismatch"),
        ("submitter", "Other", "system.submitter-mismatch"),
        ("status", True, "system.bad-value-type"),
        ("hw_notes", ["a"], "system.nested-value"),
    ],
)
def test_each_trap_is_caught(key: str, value: Any, rule: str) -> None:
    doc = build()
    doc[key] = value
    assert rule in ids(doc)


def test_integer_zero_message_explains_the_fix() -> None:
    doc = build()
    doc["accelerators_per_node"] = 0
    messages = [f.message for f in system_json_findings(doc, RULES, division="open", submitter="ExampleOrg")]
    assert any('write "0" as a string' in m for m in messages)


def test_network_division_needs_flag_and_network_keys() -> None:
    doc = build(division="network")
    found = ids(doc, division="network")
    assert "system.missing-key" in found  # the 12 network fields were not declared
    doc.pop("is_network")
    assert "system.network-flag" in ids(doc, division="network")


def test_not_an_object() -> None:
    assert ids([1, 2]) == {"system.bad-json"}
