"""Tier 3: the documents a manifest puts in the tree are judged before any run starts.

The unit tests inject the host facts, so they do not depend on this machine; the CLI
tests use the real probe (or one recorded in a state directory) the way users do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.core.errors import Problem
from mlperf_ops.manifest import check_manifest

REPO = Path(__file__).resolve().parents[1]

# What a well-behaved Linux host reports (probe.probe_host's keys).
HOST = {
    "host_processor_model_name": "Example CPU 9000",
    "host_processors_per_node": "1",
    "host_processor_core_count": "16",
    "host_processor_frequency": "3000 MHz",
    "host_processor_caches": "L2 16 MiB",
    "host_memory_capacity": "128.0 GB",
    "host_storage_capacity": "1.9 TB",
    "host_storage_type": "SSD",
    "operating_system": "Debian GNU/Linux 12 (bookworm)",
    "kernel": "6.1.0",
}

HEAD = """\
version: 1
round: v6.1
submitter: ExampleOrg
division: {division}
status: available
system_type: edge
pipeline: smoke
systems:
"""

SYSTEM = """\
  - id: {id}
    image: cpu
    description:
      host_networking: "N/A"
      host_networking_topology: "N/A"
      host_network_card_count: "0"
      host_memory_configuration: "4x 32 GB DDR5"
{extra}    benchmarks:
      - name: resnet
        measurements: {{input_data_types: fp32, weight_data_types: fp32, retraining: "no",
                       starting_weights_filename: resnet50_v1.onnx, weight_transformations: none}}
        scenarios:
          SingleStream: {{}}
"""


def manifest(tmp_path: Path, *systems: str, division: str = "open") -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD.format(division=division) + "".join(systems), encoding="utf-8")
    return path


def system(system_id: str = "box", extra: str = "      cooling: air\n") -> str:
    return SYSTEM.format(id=system_id, extra=extra)


def problems(path: Path, host: dict[str, str] | None = None) -> list[Problem]:
    facts = dict(HOST if host is None else host)
    _, found = check_manifest(path, REPO, host_facts=lambda _system_id: facts)
    return found


def test_a_complete_description_passes(tmp_path: Path) -> None:
    assert problems(manifest(tmp_path, system())) == []


def test_without_host_facts_the_tier_does_not_run(tmp_path: Path) -> None:
    path = manifest(tmp_path, system(extra=""))
    assert check_manifest(path, REPO)[1] == []
    assert [p.line for p in problems(path)] == [11]


def test_every_problem_of_every_system_at_once_in_line_order(tmp_path: Path) -> None:
    path = manifest(tmp_path, system("a", extra=""), system("b", extra='      cooling: ""\n      number_of_nodes: 2.5\n'))
    found = problems(path)
    rendered = [(p.line, p.path) for p in found]
    assert rendered == [
        (11, "systems[0].description"),                   # a: cooling missing
        (29, "systems[1].description.cooling"),           # b: declared empty
        (30, "systems[1].description.number_of_nodes"),   # b: not an integer
    ], [p.render() for p in found]
    assert "systems/a.json: key 'cooling' needs a meaningful value" in found[0].message
    assert found[0].hint and "e.g. cooling: air" in found[0].hint
    assert "[system.not-integer]" in found[2].message


def test_measurements_come_from_the_benchmark_and_its_model(tmp_path: Path) -> None:
    text = system().replace(
        '        measurements: {input_data_types: fp32, weight_data_types: fp32, retraining: "no",\n'
        '                       starting_weights_filename: resnet50_v1.onnx, weight_transformations: none}\n',
        "        model: {path: /models/resnet50_v1.onnx, sha256: " + "a" * 64 + "}\n"
        "        measurements: {input_data_types: fp32, retraining: ''}\n")
    found = problems(manifest(tmp_path, text))
    messages = sorted(p.message.split(": ", 1)[1] for p in found)
    # starting_weights_filename comes from the model artifact; the rest must be declared.
    assert messages == [
        "key 'retraining' is empty [measurements.empty-key]",
        "key 'weight_data_types' is missing [measurements.missing-key]",
        "key 'weight_transformations' is missing [measurements.missing-key]",
    ], [p.render() for p in found]
    assert all(p.path.startswith("systems[0].benchmarks[0].measurements") for p in found)


def test_what_the_host_probe_cannot_find_must_be_declared(tmp_path: Path) -> None:
    # In a container without /sys/block the storage type is unknown: the manifest must say it.
    host = {k: v for k, v in HOST.items() if k != "host_storage_type"}
    found = problems(manifest(tmp_path, system()), host)
    assert len(found) == 1 and "host_storage_type" in found[0].message
    assert found[0].path == "systems[0].description"
    assert problems(manifest(tmp_path, system(extra="      cooling: air\n      host_storage_type: NVMe\n")), host) == []


def test_a_misspelt_key_is_named_in_the_hint(tmp_path: Path) -> None:
    found = problems(manifest(tmp_path, system(extra="      colling: air\n")))
    assert len(found) == 1 and found[0].hint
    assert "'colling' a misspelling" in found[0].hint


def test_top_level_fields_redeclared_differently_are_refused(tmp_path: Path) -> None:
    found = problems(manifest(tmp_path, system(extra="      cooling: air\n      submitter: Someone Else\n")))
    assert [p.path for p in found] == ["systems[0].description.submitter"]
    # The same value again is harmless.
    assert problems(manifest(tmp_path, system(extra="      cooling: air\n      division: open\n"))) == []


def test_is_network_outside_the_network_division(tmp_path: Path) -> None:
    found = problems(manifest(tmp_path, system(extra="      cooling: air\n      is_network: true\n")))
    assert [p.path for p in found] == ["systems[0].description.is_network"]


def test_accelerator_fields_point_at_the_accelerator_block(tmp_path: Path) -> None:
    text = system(extra="      cooling: air\n").replace(
        "    image: cpu\n",
        "    image: nvidia-cuda\n    accelerator: {vendor: nvidia, model: NVIDIA L4, count: 1}\n")
    found = problems(manifest(tmp_path, text))
    # No memory in the block, and the interconnect/memory-configuration keys are not declared.
    by_path = {p.path: p for p in found}
    assert "systems[0].accelerator" in by_path
    assert "accelerator_memory_capacity" in by_path["systems[0].accelerator"].message
    assert "systems[0].description" in by_path  # accelerator_host_interconnect etc.


def test_the_image_supplies_the_framework(tmp_path: Path) -> None:
    from mlperf_ops.manifest.documents import image_software

    path = manifest(tmp_path, system())
    model, _ = check_manifest(path, REPO)
    assert model is not None
    facts = image_software(REPO / "images", model.systems[0])
    pins = (REPO / "images" / "cpu" / "requirements.txt").read_text()
    version = next(line.split("==")[1] for line in pins.splitlines() if line.startswith("onnxruntime=="))
    assert facts["framework"] == f"onnxruntime {version}"
    assert facts["python"] == "3.11"


# --------------------------------------------------------------------------- the CLI


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", NO_COLOR="1",
                MLPERF_OPS_PROJECT=str(REPO))
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "mlperf_ops", *args], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def incomplete(tmp_path: Path) -> Path:
    return manifest(tmp_path, system(extra=""))


def test_validate_plan_and_apply_refuse_before_any_run(incomplete: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    # An engine that cannot exist: reaching Docker would fail differently (exit 1).
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    for verb in (["validate"], ["plan", "--state-dir", str(state)], ["apply", "--state-dir", str(state)]):
        result = cli(*verb, str(incomplete), env=env)
        assert result.returncode == 2, (verb, result.stderr)
        assert "Traceback" not in result.stderr
        assert f"{incomplete}:11:5: systems[0].description: systems/box.json: key 'cooling'" in result.stderr, (
            verb, result.stderr)
        assert "hint: neither the host probe nor the image supplies it" in result.stderr
    assert not (state / "records").exists() and not (state / "attempts").exists()


def test_validate_json_reports_the_tier_3_problem(incomplete: Path) -> None:
    result = cli("validate", "--json", str(incomplete))
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report[0]["valid"] is False
    assert [p["line"] for p in report[0]["problems"]] == [11]


def test_a_recorded_probe_is_what_validate_judges(tmp_path: Path) -> None:
    path = manifest(tmp_path, system())
    state = tmp_path / "state"
    assert cli("validate", "--state-dir", str(state), str(path)).returncode == 0
    # The machine the runs happened on could not tell its CPU model: that is what gets submitted.
    (state / "probes").mkdir(parents=True)
    recorded = {k: v for k, v in HOST.items() if k != "host_processor_model_name"}
    (state / "probes" / "box.json").write_text(json.dumps(recorded), encoding="utf-8")
    result = cli("validate", "--state-dir", str(state), str(path))
    assert result.returncode == 2
    assert "key 'host_processor_model_name' needs a meaningful value" in result.stderr


def test_describe_prints_the_document_and_the_same_problems(incomplete: Path, tmp_path: Path) -> None:
    result = cli("describe", "--state-dir", str(tmp_path / "s"), str(incomplete))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    doc = json.loads(result.stdout)["box"]
    assert doc["cooling"] == "" and doc["accelerators_per_node"] == "0"
    assert doc["framework"].startswith("onnxruntime ")
    assert f"{incomplete}:11:5: systems[0].description:" in result.stderr

    fine = cli("describe", "--system", "demo-cpu", str(REPO / "manifests" / "demo.yaml"))
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["system_name"].startswith("mlperf-ops demo")
