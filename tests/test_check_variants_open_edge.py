"""The open division's model mapping and freedoms, and edge results inferred from another
scenario's run: our check against the official checker's verdicts, result by result.

Each variant is a real published excerpt with one file or folder changed (two for the
datacenter ones: the system type too): the Krai v6.0 excerpt (open llama3_1-70b-fp8_dyn,
mapped by model_mapping.json to llama2-70b-99.9) for the mapping; the NVIDIA open v6.0
excerpt (edge Jetson-Thor, llama3.1-8b-edge SingleStream and Offline) for what open
results may skip and for inferring in open and on datacenter systems; the GATEOverflow
v6.0 excerpt (closed edge yolo-95, a real run in each scenario folder) for inferring one
edge scenario's result from another's run; the Lenovo v6.0 excerpt (closed edge resnet50)
for the official guess of a benchmark from its folder name.
tests/data/variants_open_edge/official_verdicts.json holds what the official checker said
of each variant (recorded by `scripts/record_official_verdicts.py CHECKOUT --variants
test_check_variants_open_edge`); NOTE.md there says what each variant changes.

No variant here: a model_mapping.json that is not JSON (loader.py load_single_log
json.load, uncaught) or that is a JSON list where a folder needs the mapping
(configuration.py get_mlperf_model `extra_model_mapping.get`, reached uncaught from the
PerformanceCheck constructor in main.py): the official checker crashes on both.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from tests.support.variants import (  # noqa: E402
    assert_agrees, assert_every_variant_recorded, copy_excerpt, delete, log_value,
    new_file, recorded,
)

RECORDED = Path(__file__).parent / "data" / "variants_open_edge" / "official_verdicts.json"

KRAI = "open/Krai/results/h200_n1-vllm/llama3_1-70b-fp8_dyn/offline"
KRAI_MAPPING = "open/Krai/model_mapping.json"
NV = "open/NVIDIA/results/Jetson-Thor/llama3.1-8b-edge"
NV_SS, NV_OFF = NV + "/SingleStream", NV + "/Offline"
NV_SYSTEM = "open/NVIDIA/systems/Jetson-Thor.json"
GO = "closed/GATEOverflow/results/intel_spr_i9-reference-cpu-pytorch_v2.3.1-default_config/yolo-95"
GO_SS, GO_MS, GO_OFF = GO + "/singlestream", GO + "/multistream", GO + "/offline"
LENOVO = "closed/Lenovo/results/SE100"
TREE_OF = {"open/Krai": "krai_v6.0", "open/NVIDIA": "nvidia_open_v6.0", "closed/GATEOverflow": "gateoverflow_v6.0",
           "closed/Lenovo": "lenovo_v6.0"}
SEED = "2465351861681999779"  # v6.0's qsl_rng_seed


def _json_edit(edit: Callable[[object], object]) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        doc = json.loads(path.read_text())
        path.write_text(json.dumps(edit(doc), indent=4) + "\n")

    return change


def _with(key: str, value: object) -> Callable[[dict], dict]:
    return lambda doc: {**doc, key: value}


def _drop_lines(start: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        lines = path.read_text().split("\n")
        kept = [line for line in lines if not line.startswith(start)]
        assert len(kept) < len(lines), (path, start)
        path.write_text("\n".join(kept))

    return change


def _on(result: str, file: str, change: Callable[[Path], None]) -> tuple[str, Callable[[Path], None]]:
    """(the result changed, the change of one file, given the tree's root)."""
    return result, lambda root: change(root / file)


def _run_of(src: str, dst: str, *more: Callable[[Path], None]) -> tuple[str, Callable[[Path], None]]:
    """`dst`'s performance/run_1 replaced by `src`'s (a run of another scenario), then `more`."""

    def change(root: Path) -> None:
        run = root / dst / "performance" / "run_1"
        shutil.rmtree(run)
        shutil.copytree(root / src / "performance" / "run_1", run)
        for then in more:
            then(root)

    return dst, change


def _folder_copy(src: str, dst: str) -> tuple[str, Callable[[Path], None]]:
    """A whole result folder copied to a scenario folder the benchmark does not have."""

    def change(root: Path) -> None:
        assert not (root / dst).exists()
        shutil.copytree(root / src, root / dst)

    return dst, change


def _rename(result: str, old: str, new: str) -> tuple[str, Callable[[Path], None]]:
    def change(root: Path) -> None:
        (root / old).rename(root / new)

    return result, change


def _system_type(value: str) -> Callable[[Path], None]:
    return lambda root: _json_edit(_with("system_type", value))(root / NV_SYSTEM)


CHANGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    # model_mapping.json (official: read in open only; a folder's own name first, then the
    # round's aliases, then the mapping, then a guess by substring)
    "mapping_absent": _on(KRAI, KRAI_MAPPING, delete),
    "mapping_target_unknown": _on(KRAI, KRAI_MAPPING, _json_edit(_with("llama3_1-70b-fp8_dyn", "llama2-70b-99.99"))),
    "mapping_unused_entry_target_unknown": _on(KRAI, KRAI_MAPPING,
                                               _json_edit(_with("llama3_1-70b-fp8_pre", "llama2-70b-99.99"))),
    "mapping_value_not_a_string": _on(KRAI, KRAI_MAPPING, _json_edit(_with("llama3_1-70b-fp8_dyn", 70))),
    "nvidia_mapping_is_a_list": _on(NV_SS, "open/NVIDIA/model_mapping.json", new_file("[]\n")),
    "nvidia_mapping_renames_official_folder": _on(NV_SS, "open/NVIDIA/model_mapping.json",
                                                  new_file('{"llama3.1-8b-edge": "llama3.1-8b"}\n')),
    "folder_name_guessed_as_resnet": _rename(LENOVO + "/resnet50-int8/SingleStream", LENOVO + "/resnet50",
                                             LENOVO + "/resnet50-int8"),
    # what open results may skip (official: accuracy targets, hash, compliance tests, the
    # Offline samples per query) and may not (the round's seeds)
    "open_accuracy_without_hash": _on(NV_SS, NV_SS + "/accuracy/accuracy.txt", _drop_lines("hash=")),
    "open_wrong_seed": _on(NV_OFF, NV_OFF + "/performance/run_1/mlperf_log_detail.txt",
                           log_value("effective_qsl_rng_seed", SEED, "1")),
    "open_offline_one_sample_per_query": _on(NV_OFF, NV_OFF + "/performance/run_1/mlperf_log_detail.txt",
                                             log_value("effective_samples_per_query", "5000", "1")),
    "open_failing_test06": _on(KRAI, KRAI + "/TEST06/verify_accuracy.txt",
                               lambda path: (path.parent.mkdir(), path.write_text(
                                   "First token check pass: True\nEOS check pass: False\n"
                                   "Sample length check pass: True\nTEST06 verification complete\n"))),
    # inferred results (official: edge systems only; MultiStream from SingleStream, Offline
    # from SingleStream or MultiStream)
    "edge_multistream_from_singlestream": _run_of(GO_SS, GO_MS),
    "edge_offline_from_singlestream": _run_of(GO_SS, GO_OFF),
    "edge_offline_from_multistream": _run_of(GO_MS, GO_OFF),
    "edge_singlestream_from_offline": _run_of(GO_OFF, GO_SS),
    "edge_multistream_from_singlestream_no_estimate": _run_of(
        GO_SS, GO_MS, lambda root: log_value("early_stopping_latency_ms", "123219575", "0")(
            root / GO_MS / "performance/run_1/mlperf_log_detail.txt")),
    "open_edge_offline_from_singlestream": _run_of(NV_SS, NV_OFF),
    "open_edge_multistream_from_singlestream": _folder_copy(NV_SS, NV + "/MultiStream"),
    "open_datacenter_offline_from_singlestream": _run_of(NV_SS, NV_OFF, _system_type("datacenter")),
    "open_datacenter_edge_offline_from_singlestream": _run_of(NV_SS, NV_OFF, _system_type("datacenter,edge")),
}
VARIANTS: dict[str, Callable[[Path], None]] = {name: change for name, (_, change) in CHANGES.items()}
CHANGED_RESULT = {name: result for name, (result, _) in CHANGES.items()}

# the rule of ours that must refuse the changed result (None: it stays valid)
EXPECTED_RULE: dict[str, str | None] = {
    "mapping_absent": "bench.unknown",
    "mapping_target_unknown": "mapping.unknown-target",
    "mapping_unused_entry_target_unknown": None,
    "mapping_value_not_a_string": "mapping.bad-json",
    "nvidia_mapping_is_a_list": None,
    "nvidia_mapping_renames_official_folder": None,
    "folder_name_guessed_as_resnet": None,
    "open_accuracy_without_hash": None,
    "open_wrong_seed": "perf.seed-mismatch",
    "open_offline_one_sample_per_query": None,
    "open_failing_test06": None,
    "edge_multistream_from_singlestream": None,
    "edge_offline_from_singlestream": None,
    "edge_offline_from_multistream": None,
    # (official: that error alone; its other checks read the run's own scenario's rules)
    "edge_singlestream_from_offline": "perf.scenario-mismatch",
    "edge_multistream_from_singlestream_no_estimate": "perf.early-stopping",
    "open_edge_offline_from_singlestream": None,
    "open_edge_multistream_from_singlestream": None,
    "open_datacenter_offline_from_singlestream": "perf.scenario-mismatch",
    "open_datacenter_edge_offline_from_singlestream": None,
}

# Where ours refuses on purpose what the official checker accepts (README, "Checker rules"):
# variant -> why. None here.
STRICTER: dict[str, str] = {}


def build(variant: str, root: Path) -> Path:
    """The excerpt that holds the variant's result, copied to `root`, with the change applied."""
    tree = next(name for prefix, name in TREE_OF.items() if CHANGED_RESULT[variant].startswith(prefix + "/"))
    return copy_excerpt(tree, root, VARIANTS[variant])


def test_every_variant_was_recorded() -> None:
    assert_every_variant_recorded(recorded(RECORDED), VARIANTS, EXPECTED_RULE, CHANGED_RESULT.__getitem__)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_agrees_with_the_official_checker_on_open_division_and_inferred_results(variant: str, tmp_path: Path) -> None:
    report = check_tree(build(variant, tmp_path / "tree"), round="v6.0")
    assert_agrees(report, recorded(RECORDED)["variants"][variant], CHANGED_RESULT[variant], EXPECTED_RULE[variant],
                  variant in STRICTER)
