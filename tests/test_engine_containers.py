"""The container contract, shown on a real engine from inside a container FROM our base."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec, Mount
from mlperf_ops.core.errors import OperationalError

pytestmark = pytest.mark.docker

PROBE = ["python3", "/opt/probe/probe.py"]


def run_probe(engine: Engine, image: str, labels: dict[str, str], tmp_path: Path, *args: str,
              timeout_s: float = 120, **spec_fields: object):
    spec = ContainerSpec(image=image, command=[*PROBE, *args], labels=labels, **spec_fields)  # type: ignore[arg-type]
    lines: list[str] = []
    result = engine.run(spec, tmp_path / f"{args[0]}.log", lines.append, timeout_s=timeout_s)
    return result, lines


@pytest.fixture()
def host_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_runs_as_the_given_non_root_uid(engine, probe_image, docker_labels, tmp_path):
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "status", user="4242:4343")
    assert result.exit_code == 0, lines
    uid_line = next(line for line in lines if line.startswith("Uid:"))
    gid_line = next(line for line in lines if line.startswith("Gid:"))
    assert uid_line.split()[1:] == ["4242"] * 4
    assert gid_line.split()[1:] == ["4343"] * 4


def test_no_network_reaches_a_host_server(engine, probe_image, docker_labels, tmp_path, host_server):
    blocked, blocked_lines = run_probe(engine, probe_image, docker_labels, tmp_path,
                                       "connect", str(host_server))
    assert blocked.exit_code == 1, blocked_lines
    assert any("connect failed" in line for line in blocked_lines)
    # Control: the same probe on the host network does connect, so the failure above is the
    # isolation and not a broken probe.
    reached, reached_lines = run_probe(engine, probe_image, docker_labels, tmp_path,
                                       "connect", str(host_server), network="host")
    assert reached.exit_code == 0, reached_lines
    assert "connected" in reached_lines


def test_no_interface_but_loopback(engine, probe_image, docker_labels, tmp_path):
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "interfaces")
    assert result.exit_code == 0, lines
    assert lines == ["interfaces: lo"]


def test_root_fs_is_read_only_but_tmp_is_writable(engine, probe_image, docker_labels, tmp_path):
    root, root_lines = run_probe(engine, probe_image, docker_labels, tmp_path, "write-root", user="0:0")
    assert root.exit_code == 1, root_lines
    assert any("Read-only file system" in line for line in root_lines)
    tmp, tmp_lines = run_probe(engine, probe_image, docker_labels, tmp_path, "write-tmp")
    assert tmp.exit_code == 0, tmp_lines


def test_even_root_in_the_container_has_no_capabilities(engine, probe_image, docker_labels, tmp_path):
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "status", user="0:0")
    assert result.exit_code == 0, lines
    fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    assert int(fields["CapEff"], 16) == 0
    assert int(fields["CapPrm"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"


def test_memory_hog_is_oom_killed(engine, probe_image, docker_labels, tmp_path):
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "hog", mem_limit="64m")
    assert result.oom_killed, (result, lines)
    assert result.exit_code == 137
    assert not result.timed_out
    assert not any(line.startswith("allocated") for line in lines)


def test_timeout_kills_the_container_and_removes_it(engine, base_image, docker_labels, tmp_path):
    spec = ContainerSpec(image=base_image, command=["sleep", "60"], labels=docker_labels)
    result = engine.run(spec, tmp_path / "sleep.log", None, timeout_s=3)
    assert result.timed_out
    assert result.exit_code != 0
    assert result.duration_s < 60
    assert engine.list_containers(docker_labels) == []


def test_output_files_belong_to_the_caller(engine, probe_image, docker_labels, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mounts = (Mount(out, "/out", read_only=False),)
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "write-out", "/out",
                              mounts=mounts)
    assert result.exit_code == 0, lines
    written = out / "result.txt"
    assert written.read_text() == "result\n"
    assert written.stat().st_uid == os.getuid()
    assert written.stat().st_gid == os.getgid()


def test_output_files_of_another_uid_keep_that_uid(engine, probe_image, docker_labels, tmp_path):
    out = tmp_path / "out4242"
    out.mkdir()
    out.chmod(0o777)
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "write-out", "/out",
                              mounts=(Mount(out, "/out", read_only=False),), user="4242:4242")
    assert result.exit_code == 0, lines
    assert (out / "result.txt").stat().st_uid == 4242


def test_read_only_mount_cannot_be_written(engine, probe_image, docker_labels, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    inputs.chmod(0o777)
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "write-out", "/in",
                              mounts=(Mount(inputs, "/in"),))
    assert result.exit_code != 0, lines
    assert not (inputs / "result.txt").exists()


def test_only_the_given_environment_goes_in(engine, probe_image, docker_labels, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPERF_OPS_HOST_SECRET", "must-not-leak")
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "env",
                              env={"MLPERF_SCENARIO": "Offline"})
    assert result.exit_code == 0, lines
    names = {line.split()[1] for line in lines if line.startswith("ENV ")}
    assert "MLPERF_SCENARIO" in names
    assert "MLPERF_OPS_HOST_SECRET" not in names


def test_output_is_streamed_to_callback_and_log(engine, probe_image, docker_labels, tmp_path):
    result, lines = run_probe(engine, probe_image, docker_labels, tmp_path, "lines")
    assert result.exit_code == 0
    expected = [f"line {i}" for i in range(5)]
    assert lines == expected
    assert result.log_path.read_text().splitlines() == expected
    assert engine.list_containers(docker_labels) == []


def test_a_missing_image_is_a_clear_error_not_a_pull(engine, docker_labels, tmp_path):
    spec = ContainerSpec(image="mlperf-ops/cpu:0000000000000000", command=["true"], labels=docker_labels)
    with pytest.raises(OperationalError) as caught:
        engine.run(spec, tmp_path / "missing.log", None, timeout_s=30)
    assert "not built" in caught.value.message
    assert "mlperf-ops images build" in (caught.value.hint or "")
    assert engine.list_containers(docker_labels) == []


def test_prune_removes_only_objects_with_our_labels(engine, base_image, docker_labels):
    import subprocess
    import uuid

    def create(*labels: str) -> str:
        args = [arg for label in labels for arg in ("--label", label)]
        done = subprocess.run(["docker", "create", *args, base_image, "true"],
                              capture_output=True, text=True, check=True, timeout=60)
        return done.stdout.strip()

    # Containers inherit the image's labels, so both carry org.mlperf-ops.managed=true.
    ours = create(f"org.mlperf-ops.test={docker_labels['org.mlperf-ops.test']}")
    other_id = uuid.uuid4().hex[:12]
    other_test = create(f"org.mlperf-ops.test={other_id}")
    try:
        assert engine.list_containers(docker_labels) == [ours]
        removed = engine.prune("containers", docker_labels)
        assert removed == [ours]
        assert engine.list_containers(docker_labels) == []
        assert engine.list_containers({"org.mlperf-ops.test": other_id}) == [other_test]
    finally:
        subprocess.run(["docker", "rm", "-f", other_test], capture_output=True, timeout=60)


def test_a_root_caller_runs_containers_as_an_unprivileged_uid(engine, probe_image, docker_labels, tmp_path):
    """CI runners and pods often call as root: the container still gets a non-zero uid,
    writes its output through the handed-over mount, and the caller gets the files back."""
    out = tmp_path / "out-default"
    out.mkdir()
    spec = ContainerSpec(image=probe_image, command=["sh", "-c", "id -u > /out/uid; sleep 2"],
                         mounts=(Mount(out, "/out", read_only=False),), labels=docker_labels)
    seen: dict[str, object] = {}

    def inspect_while_running() -> None:
        for _ in range(100):
            found = engine.list_containers(docker_labels)
            if found:
                seen["user"] = engine._client.containers.get(found[0]).attrs["Config"]["User"]
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=inspect_while_running)
    watcher.start()
    result = engine.run(spec, tmp_path / "uid.log", None, timeout_s=60)
    watcher.join()
    assert result.exit_code == 0
    uid = int((out / "uid").read_text())
    assert uid != 0 and str(seen.get("user", "")).split(":")[0] == str(uid)
    assert (out / "uid").stat().st_uid == os.getuid() and out.stat().st_uid == os.getuid()
