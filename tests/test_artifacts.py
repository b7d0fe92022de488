"""`model:`/`dataset:` are verified against their sha256 before anything runs (issue 11).

The directory digest is checked against coreutils (find | sort | sha256sum | sha256sum), the
cache by counting the files actually read, and `apply` by handing it an engine that must
never be connected: a bad artifact has to stop it before any container or record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.run.apply import apply
from mlperf_ops.run.artifacts import digest
from mlperf_ops.state.digests import CACHE_FILE, DigestCache
from mlperf_ops.plan.controller import load_context
from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.events import Event
from mlperf_ops.manifest import load_manifest
from mlperf_ops.manifest.model import Artifact, Manifest
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import plan
from mlperf_ops.rules import load_rules
from mlperf_ops.state.snapshot import LedgerSnapshot, RecordSummary
from mlperf_ops.state.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]


def _dataset(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"\xff\xd8jpeg one")
    (root / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 65\n")
    (root / "sub" / "B name with spaces").write_bytes(b"b")
    (root / "sub" / "a").write_bytes(b"")
    (root / "sub" / "deeper" / "Z").write_bytes(os.urandom(3000))
    (root / "sub" / "empty-dir-is-ignored").mkdir()
    return root


def test_directory_digest_is_what_coreutils_computes(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "val")
    shell = "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum"
    expected = subprocess.run(["sh", "-c", shell], cwd=data, capture_output=True, text=True, check=True)
    assert digest(data) == expected.stdout.split()[0]


def test_file_digest_is_its_sha256_and_the_cli_prints_it(tmp_path: Path) -> None:
    model = tmp_path / "resnet50_v1.onnx"
    model.write_bytes(os.urandom(5000))
    want = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest(model) == want
    state = tmp_path / "state"
    result = subprocess.run([sys.executable, "-m", "mlperf_ops", "digest", str(model), "--state-dir", str(state)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, want + "\n"), result.stderr
    assert (state / CACHE_FILE).is_file()
    missing = subprocess.run([sys.executable, "-m", "mlperf_ops", "digest", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_the_cache_hashes_each_unchanged_file_once(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "val")
    state = tmp_path / "state"
    first = DigestCache.in_state_dir(state)
    value = digest(data, first)
    first.save()
    assert first.hashed == 5
    again = DigestCache.in_state_dir(state)
    assert digest(data, again) == value and again.hashed == 0

    # Rewritten in place with the same size: the mtime moves, the file is read again.
    target = data / "sub" / "deeper" / "Z"
    target.write_bytes(os.urandom(3000))
    changed = DigestCache.in_state_dir(state)
    assert digest(data, changed) != value and changed.hashed == 1
    changed.save()

    # Swapped for another file with the same size and mtime: a new inode, read again.
    stat = target.stat()
    other = tmp_path / "other"
    other.write_bytes(os.urandom(3000))
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, target)
    swapped = DigestCache.in_state_dir(state)
    assert digest(data, swapped) != value and swapped.hashed == 1


def test_a_damaged_cache_is_ignored(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    (tmp_path / CACHE_FILE).write_text("{not json")
    cache = DigestCache.in_state_dir(tmp_path)
    assert digest(model, cache) == hashlib.sha256(b"model").hexdigest() and cache.hashed == 1


def test_a_symlink_inside_a_data_set_is_refused(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "val")
    (data / "link.JPEG").symlink_to(data / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(UsageError, match="link.JPEG is a symbolic link inside a data set"):
        digest(data)


# --- apply stops before any container -------------------------------------------------------


class NoEngine(Exception):
    """Raised by the engine factory: reaching it means verification let the run through."""


def _no_engine() -> Any:
    raise NoEngine()


def _manifest(tmp_path: Path, model: Path, model_sha: str, data: Path, data_sha: str) -> Path:
    # The demo names its own files (build/demo/): replaced by the test's.
    text = "".join(line for line in (REPO / "manifests" / "demo.yaml").read_text("utf-8").splitlines(keepends=True)
                   if not line.startswith(("        model: ", "        dataset: ")))
    artifacts = (f"        maps_to: resnet\n        model: {{path: {model}, sha256: {model_sha}}}\n"
                 f"        dataset: {{path: {data}, sha256: {data_sha}}}\n")
    assert text.count("        maps_to: resnet\n") == 1
    path = tmp_path / "m.yaml"
    path.write_text(text.replace("        maps_to: resnet\n", artifacts), "utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, Path, str]:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    model = tmp_path / "resnet50_v1.onnx"
    model.write_bytes(os.urandom(2048))
    data = _dataset(tmp_path / "val")
    return model, digest(model), data, digest(data)


def _apply(manifest: Path, state: Path) -> list[Event]:
    events: list[Event] = []
    apply(load_context(manifest), Ledger(state), connect=_no_engine, on_event=events.append)
    return events


def _ledger_untouched(state: Path) -> None:
    assert sorted(p.name for p in state.iterdir()) <= [CACHE_FILE, "lock"], list(state.iterdir())


def test_verified_artifacts_let_apply_reach_the_engine(tmp_path: Path, files: tuple[Path, str, Path, str]) -> None:
    model, model_sha, data, data_sha = files
    with pytest.raises(NoEngine):
        _apply(_manifest(tmp_path, model, model_sha, data, data_sha), tmp_path / "state")


def test_wrong_digest_stops_apply(tmp_path: Path, files: tuple[Path, str, Path, str]) -> None:
    model, model_sha, data, _ = files
    state = tmp_path / "state"
    with pytest.raises(UsageError) as caught:
        _apply(_manifest(tmp_path, model, model_sha, data, "fe" * 32), state)
    message = caught.value.message
    assert message.startswith("nothing ran: dataset of demo-cpu/digits-mlp: ")
    assert f"{data} has sha256 " in message and f"the manifest declares {'fe' * 32}" in message
    assert "model of" not in message, "the model matches"
    _ledger_untouched(state)


def test_missing_dataset_stops_apply(tmp_path: Path, files: tuple[Path, str, Path, str]) -> None:
    model, model_sha, data, data_sha = files
    shutil.rmtree(data)
    state = tmp_path / "state"
    with pytest.raises(UsageError, match=f"dataset of demo-cpu/digits-mlp: {data} does not exist on this machine"):
        _apply(_manifest(tmp_path, model, model_sha, data, data_sha), state)
    _ledger_untouched(state)


def test_swapped_model_file_stops_apply(tmp_path: Path, files: tuple[Path, str, Path, str]) -> None:
    model, model_sha, data, data_sha = files
    state = tmp_path / "state"
    manifest = _manifest(tmp_path, model, model_sha, data, data_sha)
    with pytest.raises(NoEngine):  # verified once: digests cached
        _apply(manifest, state)
    impostor = tmp_path / "impostor"
    impostor.write_bytes(os.urandom(2048))  # same size
    stat = model.stat()
    os.utime(impostor, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: only the inode tells
    os.replace(impostor, model)
    with pytest.raises(UsageError, match=f"model of demo-cpu/digits-mlp: {model} has sha256 "):
        _apply(manifest, state)
    _ledger_untouched(state)


def test_the_cli_exits_2_with_the_error(tmp_path: Path, files: tuple[Path, str, Path, str]) -> None:
    model, _, data, data_sha = files
    state = tmp_path / "state"
    manifest = _manifest(tmp_path, model, "ef" * 32, data, data_sha)
    result = subprocess.run([sys.executable, "-m", "mlperf_ops", "apply", str(manifest), "--state-dir", str(state)],
                            capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ERROR: nothing ran: model of demo-cpu/digits-mlp" in result.stderr
    assert "mlperf-ops digest PATH" in result.stderr
    assert "docker" not in result.stderr.lower(), "stopped before the engine was looked for"
    _ledger_untouched(state)


# --- a new declared digest re-runs what used it ----------------------------------------------


def _with_artifact(manifest: Manifest, kind: str, sha: str) -> Manifest:
    system = manifest.systems[0]
    artifact = Artifact(path=f"/x/{kind}", sha256=sha)
    old = system.benchmarks[0]
    bench = dataclasses.replace(old, model=artifact) if kind == "model" else dataclasses.replace(old, dataset=artifact)
    return dataclasses.replace(manifest, systems=(dataclasses.replace(system, benchmarks=(bench,)),))


@pytest.mark.parametrize("kind", ["model", "dataset"])
def test_a_changed_artifact_reruns_what_used_it_with_its_name(kind: str) -> None:
    base = load_manifest(REPO / "manifests" / "demo.yaml", REPO)
    base = _with_artifact(_with_artifact(base, "model", "a" * 64), "dataset", "b" * 64)
    changed = _with_artifact(base, kind, "c" * 64)
    rules, profile, ids = load_rules("v6.1"), load_profile(REPO, "smoke"), {"cpu": "sha256:" + "ab" * 32}
    first = plan(base, rules, profile, ids, LedgerSnapshot())
    done = {r.spec.run_id: RecordSummary(run_id=r.spec.run_id, key=r.spec.key, status="done", inputs=r.spec.inputs)
            for r in first.runs}
    ledger = LedgerSnapshot(latest=done, done={s.key: s for s in done.values()})
    assert plan(base, rules, profile, ids, ledger).pending == ()
    again = plan(changed, rules, profile, ids, ledger)
    # Everything used the artifact: what can run now says why; the rest waits for it.
    assert {r.action for r in again.runs} == {"run", "wait"}
    ready = [r for r in again.runs if r.action == "run"]
    assert {r.spec.mode for r in ready} == {"calibration", "accuracy"}
    assert {r.reason for r in ready} == {f"{kind} changed"}, [(r.spec.run_id, r.reason) for r in ready]


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: this suite runs as root, who reads every file whatever its mode.
    def refuse(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("mlperf_ops.state.digests.file_sha256", refuse)
    with pytest.raises(UsageError, match="cannot read .*ILSVRC2012_val_00000001.JPEG: Permission denied"):
        digest(_dataset(tmp_path / "val"))
