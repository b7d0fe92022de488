"""The tree's structure as the official loader walks it: our check against the official
checker's verdicts, result by result.

Each variant is a real published excerpt with one entry of its layout added, removed or
renamed: division folders, submitter folders (src/ or code/, calibration.md,
model_mapping.json, a v5.1-style measurements/ folder), stray files and folders in
results/<system>/, in a benchmark folder and in a scenario folder, benchmark folder names
(the official name, a name only the official guess knows, a name the round does not know
in open), scenario folder names (lower case, no scenario at all, a scenario the benchmark
does not have for the system type), a file where a scenario folder belongs and a folder
where a file belongs. Excerpts: Lenovo v6.0 (closed edge resnet50), Dell v6.0 (closed
datacenter llama3_1-8b and whisper), Krai v6.0 (closed and open, open model_mapping.json),
NVIDIA open v6.0 (llama3.1-8b-edge).
tests/data/variants_structure/official_verdicts.json holds what the official checker said
of each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_structure`); NOTE.md there says what each variant changes.

A variant may add or remove results (a folder under a benchmark that is no scenario is a
result to the official loader, which reads every folder there): the test compares the
complete per-result verdict maps of both checkers, so a result only one of them reports
fails it. CHANGED_RESULT names the result whose verdict the variant is about; it is a
result of the official map.

Left out, because they crash the official checker (no verdict can be recorded; see
NOTE.md): a result without performance/ or without accuracy/, a closed benchmark folder the
round does not know (or not offered for the system type), an empty or hidden folder in a
benchmark folder, a scenario folder spelled in capitals (OFFLINE), a results/<system>/
without systems/<system>.json, a submitter without results/, a measurements.json that is a
folder.
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
    add_file, assert_agrees, assert_every_variant_recorded, copy_excerpt, folder_as_file, recorded, remove,
)

RECORDED = Path(__file__).parent / "data" / "variants_structure" / "official_verdicts.json"

LENOVO_SUB = "closed/Lenovo"
LENOVO_SYS = "closed/Lenovo/results/SE100"
LENOVO_BENCH = "closed/Lenovo/results/SE100/resnet50"
LENOVO = "closed/Lenovo/results/SE100/resnet50/offline"
DELL_BENCH = "closed/Dell/results/1-node-2S-GNR_86C/llama3_1-8b"
DELL = "closed/Dell/results/1-node-2S-GNR_86C/llama3_1-8b/Offline"
KRAI_OPEN = "open/Krai/results/h200_n1-vllm/llama3_1-70b-fp8_dyn/offline"
NVIDIA_BENCH = "open/NVIDIA/results/Jetson-Thor/llama3.1-8b-edge"
NVIDIA = "open/NVIDIA/results/Jetson-Thor/llama3.1-8b-edge/Offline"


def _new_dir(where: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        assert not (root / where).exists()
        (root / where).mkdir()

    return change


def _rename(where: str, name: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / where
        assert path.exists() and not path.with_name(name).exists(), path
        path.rename(path.with_name(name))

    return change


def _copy_dir(src: str, dst: str) -> Callable[[Path], None]:
    """A folder of the tree copied beside itself under another name."""

    def change(root: Path) -> None:
        assert not (root / dst).exists()
        shutil.copytree(root / src, root / dst)

    return change


def _dir_for_file(where: str) -> Callable[[Path], None]:
    """A file replaced by a folder of the same name (holding one file, so not empty)."""

    def change(root: Path) -> None:
        (root / where).unlink()
        (root / where).mkdir()
        (root / where / "notes.txt").write_text("x\n")

    return change


def _then(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        for one in changes:
            one(root)

    return change


# variant -> (excerpt, the result it is about, the change of the excerpt given its root)
CHANGES: dict[str, tuple[str, str, Callable[[Path], None]]] = {
    "as_published": ("lenovo_v6.0", LENOVO, lambda root: None),
    # the top level: a stray file, a division folder spelled in capitals (Krai's open results stay)
    "stray_file_at_root": ("lenovo_v6.0", LENOVO, add_file("README.md")),
    "division_in_capitals": ("krai_v6.0", KRAI_OPEN, _rename("closed", "CLOSED")),
    # the submitter folder
    "stray_file_in_submitter": ("lenovo_v6.0", LENOVO, add_file(f"{LENOVO_SUB}/notes.txt")),
    "measurements_folder": ("lenovo_v6.0", LENOVO,
                            add_file(f"{LENOVO_SUB}/measurements/SE100/resnet50/offline/README.md")),
    "model_mapping_in_closed": ("lenovo_v6.0", LENOVO,
                                add_file(f"{LENOVO_SUB}/model_mapping.json", '{"resnet50": "resnet"}\n')),
    "calibration_removed": ("dell_v6.0", DELL, remove("closed/Dell/calibration.md", "closed/Dell/documentation")),
    "src_missing": ("lenovo_v6.0", LENOVO, remove(f"{LENOVO_SUB}/src")),
    "src_renamed_code": ("lenovo_v6.0", LENOVO, _rename(f"{LENOVO_SUB}/src", "code")),
    "src_is_a_file": ("lenovo_v6.0", LENOVO, folder_as_file(f"{LENOVO_SUB}/src")),
    # stray entries in results/<system>/, a benchmark folder, a scenario folder
    "readme_in_system_folder": ("lenovo_v6.0", LENOVO, add_file(f"{LENOVO_SYS}/README.md")),
    "readme_in_benchmark_folder": ("lenovo_v6.0", LENOVO, add_file(f"{LENOVO_BENCH}/README.md")),
    "folder_in_scenario_folder": ("lenovo_v6.0", LENOVO, add_file(f"{LENOVO}/old/notes.txt")),
    "empty_folder_in_scenario_folder": ("lenovo_v6.0", LENOVO, _new_dir(f"{LENOVO}/old")),
    "readme_is_a_folder": ("lenovo_v6.0", LENOVO, _dir_for_file(f"{LENOVO}/README.md")),
    # benchmark folder names
    "benchmark_official_name": ("lenovo_v6.0", f"{LENOVO_SYS}/resnet/offline", _rename(LENOVO_BENCH, "resnet")),
    "benchmark_name_guessed": ("lenovo_v6.0", f"{LENOVO_SYS}/resnet50-int8/offline",
                               _rename(LENOVO_BENCH, "resnet50-int8")),
    "open_model_mapping_removed": ("krai_v6.0", KRAI_OPEN, remove("open/Krai/model_mapping.json")),
    # scenario folder names
    "scenario_lower_case": ("lenovo_v6.0", f"{LENOVO_BENCH}/singlestream",
                            _rename(f"{LENOVO_BENCH}/SingleStream", "singlestream")),
    "scenario_is_a_file": ("lenovo_v6.0", f"{LENOVO_BENCH}/SingleStream", folder_as_file(LENOVO)),
    "scenario_removed": ("dell_v6.0", DELL, remove(f"{DELL_BENCH}/Server")),
    "not_a_scenario_folder": ("lenovo_v6.0", LENOVO, _copy_dir(LENOVO, f"{LENOVO_BENCH}/offline_old")),
    "server_on_edge_system": ("lenovo_v6.0", LENOVO, _copy_dir(LENOVO, f"{LENOVO_BENCH}/Server")),
    "singlestream_on_datacenter_system": ("dell_v6.0", DELL, _copy_dir(DELL, f"{DELL_BENCH}/SingleStream")),
    "open_not_a_scenario_folder": ("nvidia_open_v6.0", NVIDIA, _copy_dir(NVIDIA, f"{NVIDIA_BENCH}/Offline_v2")),
}
VARIANTS: dict[str, Callable[[Path], None]] = {name: change for name, (_, _, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (_, result, _) in CHANGES.items()}
TREE_OF = {name: tree for name, (tree, _, _) in CHANGES.items()}

# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "as_published": None,
    "stray_file_at_root": None,
    "division_in_capitals": None,
    "stray_file_in_submitter": None,
    "measurements_folder": None,
    "model_mapping_in_closed": None,
    "calibration_removed": None,
    "src_missing": "tree.src-missing",
    "src_renamed_code": "tree.src-missing",
    "src_is_a_file": None,
    "readme_in_system_folder": None,
    "readme_in_benchmark_folder": None,
    "folder_in_scenario_folder": None,
    "empty_folder_in_scenario_folder": None,  # a tree.empty-dir warning
    "readme_is_a_folder": "files.missing",
    "benchmark_official_name": None,
    "benchmark_name_guessed": None,
    "open_model_mapping_removed": "bench.unknown",
    "scenario_lower_case": None,
    "scenario_is_a_file": "scenario.missing",
    "scenario_removed": "scenario.missing",
    "not_a_scenario_folder": "scenario.unknown",
    "server_on_edge_system": "scenario.unknown",
    "singlestream_on_datacenter_system": "scenario.unknown",
    "open_not_a_scenario_folder": None,
}


# Where ours refuses on purpose what the official checker accepts (README, "Checker rules":
# the tree's hygiene has the level the table gives): variant -> why. The test holds ours to
# refusing it with EXPECTED_RULE alone, and to the official verdict on every other result.
STRICTER: dict[str, str] = {
}


def build(variant: str, root: Path) -> Path:
    """The excerpt the variant changes, copied to `root`, with one entry of its layout changed."""
    return copy_excerpt(TREE_OF[variant], root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)
    assert set(STRICTER) <= set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_the_tree_structure(variant: str, tmp_path: Path) -> None:
    official = recorded(RECORDED)["variants"][variant]
    assert CHANGED_RESULT[variant] in {r["result"] for r in official}
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    # the complete maps: a result only one checker reports (a folder the official loader
    # reads as a result, a benchmark ours does not know) fails here
    assert_agrees(report, official, CHANGED_RESULT[variant], EXPECTED_RULE[variant], variant in STRICTER)
