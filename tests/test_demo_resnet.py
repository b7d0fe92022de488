"""The demo runs through the ResNet50 code path (issue 11, item 3).

The demo's files are the digits classifier in resnet50_v1.onnx's signature and its held-out
digits as an ImageNet-layout validation set, made by `harness demo` when the cpu image is
built; manifests/demo.yaml names them like a user's files. These tests check that the files
are what the manifest declares and what a real ResNet50 run reads, that the demo manifest
differs from manifests/example-closed-resnet-cpu.yaml only where stated, and (Docker) that a
demo accuracy run goes through the ResNet50 harness and scores what an independent count says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import yaml

from mlperf_ops.stacks import images
from mlperf_ops.run.artifacts import digest
from mlperf_ops.harness import demo_imagenet, imagenet
from mlperf_ops.manifest import load_manifest
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import plan
from mlperf_ops.rules import load_rules
from mlperf_ops.run.runner import container_env
from mlperf_ops.state.snapshot import LedgerSnapshot

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "manifests" / "demo.yaml"
CLOSED = REPO / "manifests" / "example-closed-resnet-cpu.yaml"
BENCH = "systems[0].benchmarks[0]"

# Everything in which demo.yaml may differ from example-closed-resnet-cpu.yaml, and why.
# Any other difference (image, command, accuracy_command, the harness's inputs...) fails.
MAY_DIFFER = {
    # who submits, where, and with which profile (the demo is a smoke run; calibration.md is
    # closed-division paperwork)
    "submitter", "division", "pipeline", "calibration_md",
    # a custom model in the open division is named for itself and mapped to the benchmark
    f"{BENCH}.name", f"{BENCH}.maps_to",
    # the two artifacts: the demo's files from the image instead of the reference's
    f"{BENCH}.model.path", f"{BENCH}.model.sha256", f"{BENCH}.dataset.path", f"{BENCH}.dataset.sha256",
    f"{BENCH}.measurements.starting_weights_filename",  # says which of the two model files
    # the closed edge round requires MultiStream; the demo leaves it out (demo.yaml says why)
    f"{BENCH}.scenarios.MultiStream",
    # the machine: the user describes their own
    "systems[0].id", "systems[0].name", "systems[0].container.memory", "systems[0].container.shm",
    "systems[0].description.hw_notes",
}


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(node, list):
        out = {}
        for i, value in enumerate(node):
            out.update(_flat(value, f"{prefix}[{i}]"))
        return out
    return {prefix: node}


def test_the_demo_manifest_differs_from_a_closed_resnet50_only_where_stated() -> None:
    demo = _flat(yaml.safe_load(DEMO.read_text("utf-8")))
    closed = _flat(yaml.safe_load(CLOSED.read_text("utf-8")))
    differ = {key for key in demo.keys() | closed.keys() if demo.get(key, "<absent>") != closed.get(key, "<absent>")}
    assert differ <= MAY_DIFFER, sorted(differ - MAY_DIFFER)
    # The artifacts are declared on both sides, and only their paths and digests differ.
    for kind in ("model", "dataset"):
        assert f"{BENCH}.{kind}.path" in differ and f"{BENCH}.{kind}.sha256" in differ
    assert demo[f"{BENCH}.maps_to"] == closed[f"{BENCH}.name"] == "resnet"
    assert (demo["division"], closed["division"]) == ("open", "closed")


def test_both_manifests_give_the_harness_the_same_contract() -> None:
    """The container of every run the two have in common gets the same environment: the
    benchmark, LoadGen's model, the ResNet50 model and data-set mount points, the provider."""
    rules, profile = load_rules("v6.1"), load_profile(REPO, "smoke")
    target = images.load_target(REPO / "images", "cpu")
    envs: list[dict[tuple[str, str], dict[str, str]]] = []
    for path in (DEMO, CLOSED):
        manifest = load_manifest(path, REPO)
        bench = manifest.systems[0].benchmarks[0]
        assert manifest.systems[0].image == "cpu" and bench.command is None and bench.accuracy_command is None
        runs = plan(manifest, rules, profile, {"cpu": "sha256:" + "ab" * 32}, LedgerSnapshot()).runs
        by_run: dict[tuple[str, str], dict[str, str]] = {}
        for run in runs:
            env = dict(container_env(run.spec, target, bench))
            for varying in ("MLPERF_MODEL_NAME", "MLPERF_RUN_KEY"):  # the benchmark's own name, the key
                env.pop(varying)
            by_run[(run.spec.scenario, run.spec.mode)] = env
        envs.append(by_run)
    demo, closed = envs
    common = demo.keys() & closed.keys()
    assert ("Offline", "accuracy") in common and ("SingleStream", "performance") in common
    for key in common:
        assert demo[key] == closed[key], key
    assert demo[("Offline", "accuracy")]["MLPERF_MODEL_PATH"] == "/mlperf/model"
    assert demo[("Offline", "accuracy")]["MLPERF_DATASET_PATH"] == "/mlperf/dataset"
    assert demo[("Offline", "accuracy")]["MLPERF_BENCHMARK"] == "resnet"


# --- the files themselves, made on this host as the image makes them --------------------------


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("OPENBLAS_CORETYPE", None)  # `harness demo` sets it itself
    done = subprocess.run([sys.executable, "-m", "mlperf_ops.harness", "demo", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    yield out


def _declared(kind: str) -> str:
    bench = yaml.safe_load(DEMO.read_text("utf-8"))["systems"][0]["benchmarks"][0]
    return str(bench[kind]["sha256"])


def test_the_files_have_the_digests_the_demo_manifest_declares(demo_files: Path) -> None:
    meta = json.loads((demo_files / demo_imagenet.METADATA_FILE).read_text("utf-8"))
    model_sha = digest(demo_files / demo_imagenet.MODEL_FILE)
    dataset_sha = digest(demo_files / demo_imagenet.DATASET_DIR)
    assert (model_sha, dataset_sha) == (_declared("model"), _declared("dataset"))
    assert (meta["model_sha256"], meta["dataset_sha256"]) == (model_sha, dataset_sha)  # the harness's own digest
    from mlperf_ops.stacks import demo_export  # the names `images export-demo` checks for

    assert (demo_export.MODEL_FILE, demo_export.DATASET_DIR) == (demo_imagenet.MODEL_FILE, demo_imagenet.DATASET_DIR)
    assert meta["heldout_top1_onnx_on_jpegs"] > 0.95


def test_the_data_set_is_laid_out_like_the_imagenet_validation_set(demo_files: Path) -> None:
    val = demo_files / demo_imagenet.DATASET_DIR
    lines = (val / "val_map.txt").read_text("utf-8").splitlines()
    assert len(lines) == 50_000
    assert lines[0].split() == ["ILSVRC2012_val_00000001.JPEG", lines[0].split()[1]]
    assert lines[-1].split()[0] == "ILSVRC2012_val_00050000.JPEG"
    names = sorted(p.name for p in val.iterdir())
    assert names == sorted([line.split()[0] for line in lines] + ["val_map.txt"])
    labels = {int(line.split()[1]) for line in lines}
    assert labels == set(range(10))
    inodes = {(val / line.split()[0]).stat().st_ino for line in lines}
    assert len(inodes) == 450  # the held-out quarter of the 1,797 digits, hard-linked
    assert (val / "ILSVRC2012_val_00000001.JPEG").read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG


def test_the_model_has_the_reference_signature(demo_files: Path) -> None:
    import onnx

    graph = onnx.load(str(demo_files / demo_imagenet.MODEL_FILE)).graph

    def shape(value: Any) -> list[Any]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    (inp,) = graph.input
    assert (inp.name, inp.type.tensor_type.elem_type, shape(inp)[1:]) == ("input_tensor:0", onnx.TensorProto.FLOAT,
                                                                          [3, 224, 224])
    outputs = {o.name: o for o in graph.output}
    assert set(outputs) == {"ArgMax:0", "softmax_tensor:0"}
    assert outputs["ArgMax:0"].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert shape(outputs["softmax_tensor:0"])[1] == 1001


def test_the_resnet50_path_scores_it_and_decodes_each_distinct_image_once(demo_files: Path) -> None:
    from mlperf_ops.harness.resnet import ResnetBackend

    images_ = imagenet.ImagenetSet(demo_files / "val", threads=2)
    backend = ResnetBackend(demo_files / demo_imagenet.MODEL_FILE, "CPUExecutionProvider", 1)
    good = total = 0
    for start in (0, 1024, 2048):  # three of the accuracy run's LoadGen chunks
        chunk = list(range(start, start + 1024))
        images_.load(chunk)
        for first in range(0, 1024, 128):
            idx = np.arange(start + first, start + first + 128)
            predicted = backend.predict(images_.render(idx), len(idx)).astype(np.int64)
            good += int(np.sum(predicted == images_.labels[idx]))
            total += len(idx)
        images_.unload(chunk)
    assert images_.decoded == 450, "identical files are decoded once, across chunks"
    assert good / total > 0.95
    # Without the cache every chunk decodes its own 450 distinct images again.
    uncached = imagenet.ImagenetSet(demo_files / "val", threads=2, cache_bytes=0)
    for start in (0, 1024):
        uncached.load(list(range(start, start + 1024)))
        uncached.unload(list(range(start, start + 1024)))
    assert uncached.decoded == 900
    # Same pixels either way: the cache only saves work.
    uncached.load([5])
    images_.load([5])
    assert np.array_equal(uncached.render(np.array([5])), images_.render(np.array([5])))


# --- a demo accuracy run in its container goes through the ResNet50 harness -----------------


@pytest.mark.docker
@pytest.mark.slow
def test_a_demo_accuracy_run_goes_through_the_resnet50_harness(engine: Any, tmp_path: Path) -> None:
    from tests.support.docker_fixtures import export_demo_files

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", PYTHONUNBUFFERED="1")
    export_demo_files(REPO, env)
    state = tmp_path / "state"
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "apply", str(DEMO), "--state-dir", str(state),
                           "--only", "*/Offline/accuracy", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    (summary,) = json.loads(done.stdout)["records"]
    record_dir = Path(summary["path"])
    record = json.loads((record_dir / "record.json").read_text("utf-8"))
    assert record["status"] == "done" and record["official"] == "resnet"
    # The run was keyed on, and checked against, the demo's declared model and data set.
    assert record["inputs"]["artifacts"] == {"model": _declared("model"), "dataset": _declared("dataset")}
    log = (record_dir / "container.log").read_text("utf-8")
    assert "harness: ImageNet layout: 50000 images listed in /mlperf/dataset/val_map.txt" in log
    assert "harness: model /mlperf/model on CPUExecutionProvider" in log
    assert "digits.onnx" not in log, "the digits harness's model must not be read"
    # An independent top-1 from LoadGen's accuracy log and val_map.txt: the reference script's
    # rule (first response per sample, float32 label) written here from its description.
    labels = [int(line.split()[1])
              for line in (REPO / "build" / "demo" / "val" / "val_map.txt").read_text("utf-8").splitlines()]
    entries = json.loads((record_dir / "output" / "mlperf_log_accuracy.json").read_text("utf-8"))
    first: dict[int, float] = {}
    for entry in entries:
        first.setdefault(entry["qsl_idx"], float(np.frombuffer(bytes.fromhex(entry["data"]), "<f4")[0]))
    assert len(first) == 50_000
    good = sum(1 for idx, value in first.items() if int(value) == labels[idx])
    assert record["accuracy"]["acc"] == pytest.approx(round(100.0 * good / 50_000, 3))
    assert record["accuracy"]["acc"] > 95.0
    accuracy_txt = (record_dir / "output" / "accuracy.txt").read_text("utf-8")
    assert f"good={good}, total=50000" in accuracy_txt


def test_the_demo_files_cannot_run_in_the_closed_division(tmp_path: Path) -> None:
    """Only the paths and digests differ from a real closed run, so the closed division must
    refuse the demo's own files by their digests (the digits model never files a closed result)."""
    from mlperf_ops.stacks import demo_export

    assert (demo_export.MODEL_SHA256, demo_export.DATASET_SHA256) == (_declared("model"), _declared("dataset"))
    text = (DEMO.read_text("utf-8").replace("division: open", "division: closed")
            .replace("- name: digits-mlp", "- name: resnet").replace("        maps_to: resnet\n", "")
            .replace("          SingleStream: {}\n", "          SingleStream: {}\n          MultiStream: {}\n"))
    manifest = tmp_path / "closed-demo.yaml"
    manifest.write_text(text, "utf-8")
    result = subprocess.run([sys.executable, "-m", "mlperf_ops", "validate", str(manifest)],
                            capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
                            env={**os.environ, "MLPERF_OPS_PROJECT": str(REPO)})
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if ": systems[0].benchmarks[0]." in line]
    assert len(errors) == 2 and "Traceback" not in result.stderr, result.stderr
    for kind in ("model", "dataset"):
        line_no = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(f"        {kind}: "))
        assert any(e.startswith(f"{manifest}:{line_no}:") and f"benchmarks[0].{kind}.sha256: 'resnet' declares "
                   f"the built-in demo's {kind}" in e for e in errors), result.stderr
    assert "hint: point `model:` at the reference file" in result.stderr


# --- images export-demo: copied once per image, never replaced by the same bytes --------------


class _FakeEngine:
    """Runs the export's `cp` on this host: the image's demo directory is `source`."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.runs = 0

    def run(self, spec: Any, log_path: Path, on_line: None = None, timeout_s: float = 3600.0) -> Any:
        import shutil

        from mlperf_ops.stacks import demo_export

        self.runs += 1
        assert spec.command[-2:] == [f"{demo_export.IMAGE_DIR}/.", "/out/"] and spec.network == "none"
        (mount,) = spec.mounts
        assert mount.target == "/out" and not mount.read_only
        shutil.copytree(self.source, mount.source, dirs_exist_ok=True)
        log_path.write_text("")
        return type("Result", (), {"exit_code": 0})()


def _image_files(root: Path, digest_text: str) -> Path:
    (root / "val").mkdir(parents=True)
    (root / "val" / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 3\n")
    (root / "digits_resnet50_v1.onnx").write_bytes(b"model")
    (root / "demo.json").write_text(digest_text)
    return root


def test_export_copies_once_per_image_and_keeps_identical_files_in_place(tmp_path: Path) -> None:
    from mlperf_ops.stacks import demo_export

    engine = _FakeEngine(_image_files(tmp_path / "image", '{"model_sha256": "a"}'))
    out = tmp_path / "build" / "demo"
    assert demo_export.export(engine, "mlperf-ops/cpu:1", out) is True
    assert (out / "val" / "val_map.txt").is_file() and (out / ".image").read_text() == "mlperf-ops/cpu:1\n"
    assert demo_export.export(engine, "mlperf-ops/cpu:1", out) is False and engine.runs == 1
    inode = (out / "val" / "val_map.txt").stat().st_ino
    # A new image with the same files (a harness edit): the files a running apply mounted stay.
    assert demo_export.export(engine, "mlperf-ops/cpu:2", out) is True and engine.runs == 2
    assert (out / "val" / "val_map.txt").stat().st_ino == inode and (out / ".image").read_text() == "mlperf-ops/cpu:2\n"
    # Different files: replaced as a whole.
    engine.source = _image_files(tmp_path / "image2", '{"model_sha256": "b"}')
    assert demo_export.export(engine, "mlperf-ops/cpu:3", out) is True
    assert json.loads((out / "demo.json").read_text()) == {"model_sha256": "b"}
    assert sorted(p.name for p in out.parent.iterdir()) == [".demo.lock", "demo"], "no staging left behind"
    # Deleted by hand: copied again although the stamp names the image.
    (out / "digits_resnet50_v1.onnx").unlink()
    assert demo_export.export(engine, "mlperf-ops/cpu:3", out) is True and (out / "digits_resnet50_v1.onnx").is_file()


def test_the_demo_files_need_no_volume_in_a_kubernetes_job_but_other_relative_paths_do() -> None:
    from mlperf_ops.stacks import demo_export

    assert demo_export.carried_by_controller("build/demo/val")
    assert demo_export.carried_by_controller("build/demo/digits_resnet50_v1.onnx")
    assert not demo_export.carried_by_controller("/opt/mlperf-ops/build/demo/val")
    assert not demo_export.carried_by_controller("build/demo/../../models/x.onnx")
    assert not demo_export.carried_by_controller("models/resnet50_v1.onnx")
