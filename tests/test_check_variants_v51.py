"""v5.1's tree layout on real logs: our check against the official checker's verdicts,
result by result.

The excerpts are tests/data/real_trees/gateoverflow_v5.1 (GATEOverflow's resnet50 on an edge
CPU system, SingleStream, MultiStream and Offline with TEST01 and TEST04) and
tests/data/real_trees/lenovo_power_v5.1 (Lenovo's whisper Offline with power), both as
published and both accepted by both checkers. v5.1 kept a result's compliance tests in
`compliance/<system>/<benchmark>/<scenario>/`, its README.md, user.conf and measurements
JSON (named after the system) in `measurements/<system>/<benchmark>/<scenario>/`, and the
submitter's code in `code/`: each variant changes one thing of that layout, or of what it
holds, and the official checker (`--version v5.1`, which reads the same layout from its
`*_PATH[v5.1]` tables) decides.

tests/data/variants_v51/official_verdicts.json holds what the official checker said of
each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_v51`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import (  # noqa: E402
    add_file, assert_agrees, assert_every_variant_recorded, copy_excerpt, folder_as_file, move, recorded, remove,
    replace_text,
)

RECORDED = Path(__file__).parent / "data" / "variants_v51" / "official_verdicts.json"
ROUND = "v5.1"
EXCERPT = "gateoverflow_v5.1"
POWER_EXCERPT = "lenovo_power_v5.1"

GATE = "closed/GATEOverflow"
SYSTEM = "GATEOverflow_AMD_AM5-reference-cpu-onnxruntime_v1.22.1-default_config"
OFF = f"{GATE}/results/{SYSTEM}/resnet50/offline"
SS = f"{GATE}/results/{SYSTEM}/resnet50/singlestream"
COMPLIANCE_OFF = f"{GATE}/compliance/{SYSTEM}/resnet50/offline"
COMPLIANCE_SS = f"{GATE}/compliance/{SYSTEM}/resnet50/singlestream"
MEASUREMENTS_OFF = f"{GATE}/measurements/{SYSTEM}/resnet50/offline"
MEASUREMENTS_JSON = f"{MEASUREMENTS_OFF}/{SYSTEM}.json"
WHISPER = "closed/Lenovo/results/SR680a_V3_B200SXMx8_TRT/whisper/Offline"



def _compliance_beside_the_results(root: Path) -> None:
    """The v6.x layout: Offline's TEST01 and TEST04 moved into its results/ folder."""
    for test in ("TEST01", "TEST04"):
        shutil.move(str(root / COMPLIANCE_OFF / test), str(root / OFF / test))


def _unchanged(root: Path) -> None:
    """As published."""


# variant -> (the result it is about, the change of the excerpt given its root)
CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "as_published": (OFF, _unchanged),
    # the compliance tree
    "offline_without_test04": (OFF, remove(f"{COMPLIANCE_OFF}/TEST04")),
    "singlestream_without_compliance": (SS, remove(COMPLIANCE_SS)),
    "test04_fails": (OFF, replace_text(f"{COMPLIANCE_OFF}/TEST04/verify_performance.txt", "TEST PASS", "TEST FAIL")),
    # TEST01 as v6.x keeps it, beside the result: v5.1 looks in compliance/
    "compliance_beside_the_results": (OFF, _compliance_beside_the_results),
    # the measurements tree
    "no_measurements_json": (OFF, remove(MEASUREMENTS_JSON)),
    "measurements_json_not_named_after_the_system": (OFF, move(MEASUREMENTS_JSON, f"{MEASUREMENTS_OFF}/measurements.json")),
    # the official loader reads the first JSON, by name, whose name starts with the system's
    "an_earlier_json_named_after_the_system": (OFF, add_file(f"{MEASUREMENTS_OFF}/{SYSTEM}-a.json", "{}\n")),
    "a_later_json_named_after_the_system": (OFF, add_file(f"{MEASUREMENTS_OFF}/{SYSTEM}_z.json", "{}\n")),
    "no_readme": (OFF, remove(f"{MEASUREMENTS_OFF}/README.md")),
    "no_user_conf": (OFF, remove(f"{MEASUREMENTS_OFF}/user.conf")),
    # the code: v5.1 names it code/
    "no_code": (OFF, remove(f"{GATE}/code")),
    "code_named_src": (OFF, move(f"{GATE}/code", f"{GATE}/src")),
    # what the folders hold is judged as in v6.x
    "offline_accuracy_below": (OFF, replace_text(f"{OFF}/accuracy/accuracy.txt", "accuracy=76.456%", "accuracy=75.456%")),
    # a power result, as published, then with a file its run may not hold (without its
    # ranging run or its analyser's log the official power checker stops with a traceback:
    # no verdict to hold ours to)
    "power_as_published": (WHISPER, _unchanged),
    "power_run_holds_another_file": (WHISPER, add_file(f"{WHISPER}/performance/run_1/notes.txt")),
}
VARIANTS = {name: change for name, (_, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (result, _) in CHANGES.items()}
EXCERPT_OF = {name: POWER_EXCERPT if name.startswith("power_") else EXCERPT for name in CHANGES}

# variant -> the one rule id that refuses the changed result (None: both accept it)
EXPECTED_RULE: dict[str, str | None] = {
    "as_published": None,
    "offline_without_test04": "compliance.missing",
    "singlestream_without_compliance": "compliance.missing",
    "test04_fails": "compliance.test04-fail",
    "compliance_beside_the_results": "compliance.missing",
    "no_measurements_json": "files.missing",
    "measurements_json_not_named_after_the_system": "files.missing",
    "an_earlier_json_named_after_the_system": "measurements.missing-key",
    "a_later_json_named_after_the_system": None,
    "no_readme": "files.missing",
    "no_user_conf": "files.missing",
    "no_code": "tree.src-missing",
    "code_named_src": "tree.src-missing",
    "offline_accuracy_below": "acc.target",
    "power_as_published": None,
    "power_run_holds_another_file": "power.files",
}


def build(variant: str, root: Path) -> Path:
    return copy_excerpt(EXCERPT_OF[variant], root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__,
                                  group=EXCERPT_OF.__getitem__)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_the_v5_1_layout(variant: str, tmp_path: Path) -> None:
    official = recorded(RECORDED)["variants"][variant]
    report = check_tree(build(variant, tmp_path / "tree"), round=ROUND)
    assert_agrees(report, official, CHANGED_RESULT[variant], EXPECTED_RULE[variant])


def _measurements_json_as(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / MEASUREMENTS_JSON
        path.unlink()
        make(path)
    return change


# What no published tree holds, so no official verdict either: the layout's folders and the
# system-named JSON as things a reader could hang or crash on. Each refuses the Offline
# result alone, for its rule, and never stops the check.
HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "measurements_json_a_fifo": (_measurements_json_as(lambda path: os.mkfifo(path)), "files.missing"),
    "measurements_json_a_link_to_dev_zero": (_measurements_json_as(lambda path: path.symlink_to("/dev/zero")),
                                             "files.missing"),
    "measurements_folder_a_file": (folder_as_file(MEASUREMENTS_OFF), "files.missing"),
    "compliance_folder_a_file": (folder_as_file(COMPLIANCE_OFF), "compliance.missing"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layouts_refuse_their_result_alone(case: str, tmp_path: Path) -> None:
    change, rule = HOSTILE[case]
    report = check_tree(copy_excerpt(EXCERPT, tmp_path / "tree", change), round=ROUND)
    assert "check.internal" not in report.rule_ids()
    verdicts = {r.path: r for r in report.results}
    assert [path for path, row in verdicts.items() if not row.valid] == [OFF]
    assert rule in {reason["rule_id"] for reason in verdicts[OFF].reasons}
