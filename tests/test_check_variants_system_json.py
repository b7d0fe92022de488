"""systems/<system>.json: our check against the official checker's verdicts, result by result.

The tree is the real Lenovo v6.0 excerpt (closed edge, resnet50 on an SE100), as published
and with its one system description changed in one key per variant, in each of the ways
the official system check (submission_checker/checks/system_check.py) tells apart: the
availability status, the submitter and the division against the directories, the network
flag, a required key absent, a key that needs a meaningful value empty, null or 0, a key
that needs none empty, values of other JSON types, a description no result uses. The
`open_` variants are the real NVIDIA v6.0 open excerpt (llama3.1-8b-edge on a Jetson Thor),
whose system_type is changed: in the closed division the official loader passes
system_type to Config.set_type before any check, which raises on any value but the four
exact ones (a crash, not a verdict), so only the open division shows its system_type check.
tests/data/variants_system_json/official_verdicts.json holds what the official checker said
of each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_system_json`); NOTE.md there says more.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import assert_agrees, assert_every_variant_recorded, copy_excerpt, recorded  # noqa: E402

RECORDED = Path(__file__).parent / "data" / "variants_system_json" / "official_verdicts.json"
CHANGED = "closed/Lenovo/results/SE100/resnet50/offline"  # a result of the changed system
SYSTEM_JSON = "closed/Lenovo/systems/SE100.json"
OPEN_CHANGED = "open/NVIDIA/results/Jetson-Thor/llama3.1-8b-edge/Offline"
OPEN_SYSTEM_JSON = "open/NVIDIA/systems/Jetson-Thor.json"


def _edit(file: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """A change of the system description `file` of the tree, given the tree's root."""
    def apply(root: Path) -> None:
        path = root / file
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc, indent=4) + "\n")
    return apply


def _set(key: str, value: Any, file: str = SYSTEM_JSON) -> Callable[[Path], None]:
    return _edit(file, lambda doc: doc.__setitem__(key, value))


def _drop(key: str, file: str = SYSTEM_JSON) -> Callable[[Path], None]:
    return _edit(file, lambda doc: doc.pop(key))


def _as_published(root: Path) -> None:
    pass


def _unused_description(root: Path) -> None:
    # a second description, of a system with no results/ folder
    shutil.copy(root / SYSTEM_JSON, root / "closed/Lenovo/systems/SE200.json")


NETWORK_KEYS = ("network_type", "network_media", "network_rate", "nic_loadgen", "number_nic_loadgen",
                "net_software_stack_loadgen", "network_protocol", "number_connections", "nic_sut",
                "number_nic_sut", "net_software_stack_sut", "network_topology")


def _is_network_false_with_network_keys(root: Path) -> None:
    # the one variant that changes more than one key: is_network "false" (a truthy string,
    # so the official check requires the network-mode keys) and those keys, "N/A"
    _edit(SYSTEM_JSON, lambda doc: doc.update({"is_network": "false", **dict.fromkeys(NETWORK_KEYS, "N/A")}))(root)


VARIANTS: dict[str, Callable[[Path], None]] = {
    "as_published": _as_published,
    "status_capitalised": _set("status", "Available"),
    "status_unknown": _set("status", "released"),
    "status_missing": _drop("status"),
    "status_empty": _set("status", ""),
    "submitter_other": _set("submitter", "Dell"),
    "division_capitalised": _set("division", "Closed"),
    "division_other": _set("division", "open"),
    "hw_notes_missing": _drop("hw_notes"),
    "host_processor_frequency_empty": _set("host_processor_frequency", ""),
    "cooling_empty": _set("cooling", ""),
    "accelerators_per_node_integer_zero": _set("accelerators_per_node", 0),
    "number_of_nodes_integer": _set("number_of_nodes", 1),
    "number_of_nodes_float": _set("number_of_nodes", 1.0),
    "other_software_stack_object": _set("other_software_stack", {"kernel": "6.17.0-14-generic"}),
    "is_network_false_string": _set("is_network", "false"),
    "is_network_false_boolean": _set("is_network", False),
    "is_network_false_with_network_keys": _is_network_false_with_network_keys,
    "unused_description": _unused_description,
    "open_as_published": _as_published,
    "open_system_type_capitalised": _set("system_type", "Edge", OPEN_SYSTEM_JSON),
    "open_system_type_missing": _drop("system_type", OPEN_SYSTEM_JSON),
}
# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "as_published": None,
    "status_capitalised": None,
    "status_unknown": "system.bad-status",
    "status_missing": "system.missing-key",
    "status_empty": "system.empty-key",
    "submitter_other": "system.submitter-mismatch",
    "division_capitalised": None,
    "division_other": "system.division-mismatch",
    "hw_notes_missing": "system.missing-key",
    "host_processor_frequency_empty": None,
    "cooling_empty": "system.empty-key",
    "accelerators_per_node_integer_zero": "system.empty-key",
    "number_of_nodes_integer": None,
    # the official results table converts it with int(): 1.0 is 1 there
    "number_of_nodes_float": None,
    "other_software_stack_object": None,
    # "false" is a truthy string: the official check then requires every network key
    "is_network_false_string": "system.missing-key",
    "is_network_false_boolean": "system.bad-value-type",
    # the flag says "not network", as the closed division wants, and the keys it makes required are there
    "is_network_false_with_network_keys": None,
    "unused_description": None,
    "open_as_published": None,
    "open_system_type_capitalised": "system.bad-type",
    "open_system_type_missing": "system.missing-key",
}


def _changed(variant: str) -> str:
    return OPEN_CHANGED if variant.startswith("open_") else CHANGED


def build(variant: str, root: Path) -> Path:
    """The Lenovo excerpt at `root`, its system description changed as `variant` says;
    for an open_ variant, the NVIDIA open excerpt, its system description changed."""
    return copy_excerpt("nvidia_open_v6.0" if variant.startswith("open_") else "lenovo_v6.0", root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    # both verdicts occur for the changed result of the closed and of the open variants
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, _changed,
                                  group=lambda variant: variant.startswith("open_"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_system_json(variant: str, tmp_path: Path) -> None:
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert_agrees(report, recorded(RECORDED)["variants"][variant], _changed(variant), EXPECTED_RULE[variant])
