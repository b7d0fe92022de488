"""calibration.md and harness source into the tree (mlperf_ops.submission.paperwork), on real files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.events import Event
from mlperf_ops.manifest.model import BenchmarkSpec, Manifest, ScenarioSpec, SystemSpec
from mlperf_ops.submission.paperwork import source_files, write_paperwork


def _harness(root: Path) -> Path:
    src = root / "harness"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "__pycache__" / "run.cpython-311.pyc").write_bytes(b"x")
    (src / "pkg" / "run.py").write_text("print('run')\n")
    (src / "pkg" / "stale.pyc").write_bytes(b"x")
    (src / ".git").mkdir()
    (src / ".git" / "config").write_text("[core]\n")
    (src / ".env").write_text("TOKEN=1\n")
    (src / "README.md").write_text("# harness\n")
    outside = root / "secret.txt"
    outside.write_text("not code\n")
    (src / "linked.txt").symlink_to(outside)
    (src / "linked-dir").symlink_to(root, target_is_directory=True)
    return src


def _manifest(root: Path, *, source: str | None, calibration: str | None, division: str = "closed") -> Manifest:
    bench = BenchmarkSpec(name="resnet", official="resnet", scenarios=(ScenarioSpec("Offline"),),
                          command=("python3", "-m", "x"), source=source)
    system = SystemSpec(id="sys", image="cpu", benchmarks=(bench,))
    return Manifest(path=str(root / "m.yaml"), version=1, round="v6.1", submitter="S", division=division,
                    status="available", system_type="edge", pipeline="smoke", systems=(system,),
                    calibration_md=calibration)


def test_only_regular_visible_source_files_are_copied(tmp_path: Path) -> None:
    src = _harness(tmp_path)
    (tmp_path / "calibration.md").write_text("# calibration\n")
    top = tmp_path / "tree"
    top.mkdir()
    copies = write_paperwork(_manifest(tmp_path, source="harness", calibration="calibration.md"), top,
                             submittable=True, on_event=lambda e: None)
    copied = sorted(p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())
    assert copied == ["calibration.md", "src/resnet/README.md", "src/resnet/pkg/run.py"]
    assert copies[0].files == 2 and copies[0].source == src.resolve()


def test_source_over_the_limit_is_refused_by_name(tmp_path: Path) -> None:
    src = _harness(tmp_path)
    (src / "weights.bin").write_bytes(b"\0" * 4096)
    with pytest.raises(UsageError, match=r"over the 0 MiB limit.*weights.bin"):
        source_files(src, limit=1024)


def test_closed_without_paperwork_refused_when_submittable_warned_in_smoke(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, source=None, calibration=None)
    with pytest.raises(UsageError, match="calibration.md.*source of sys/resnet"):
        write_paperwork(manifest, tmp_path, submittable=True, on_event=lambda e: None)
    events: list[Event] = []
    write_paperwork(manifest, tmp_path, submittable=False, on_event=events.append)
    assert [e.kind for e in events] == ["warning"] and "smoke tree" in events[0].message
    open_ = dataclasses.replace(manifest, division="open")
    assert write_paperwork(open_, tmp_path, submittable=True, on_event=lambda e: None) == []


def test_missing_calibration_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="calibration_md: .*nope.md is not a file"):
        write_paperwork(_manifest(tmp_path, source=None, calibration="nope.md"), tmp_path,
                        submittable=False, on_event=lambda e: None)
