"""container_kwargs and error classification: pure, no engine needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest
import requests

from mlperf_ops.execute.engine import container_kwargs, is_transient, translate_error
from mlperf_ops.execute.executor import ContainerSpec, GpuRequest, Mount, caller_user
from mlperf_ops.core.errors import OperationalError


def spec(**fields: object) -> ContainerSpec:
    return ContainerSpec(image="mlperf-ops/cpu:0123456789abcdef", command=["true"], **fields)  # type: ignore[arg-type]


def test_secure_defaults():
    kwargs = container_kwargs(spec())
    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["network_mode"] == "none"
    assert kwargs["read_only"] is True
    assert "/tmp" in kwargs["tmpfs"]
    assert kwargs["user"] == caller_user()
    assert kwargs["user"] == ("65534:65534" if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}")
    assert not kwargs["user"].startswith("0:")
    assert kwargs["environment"] == {}
    assert kwargs["labels"] == {"org.mlperf-ops.managed": "true"}
    assert "device_requests" not in kwargs and "devices" not in kwargs
    assert kwargs["pids_limit"] > 0


def test_environment_is_exactly_what_the_caller_gives(monkeypatch):
    monkeypatch.setenv("SOME_HOST_SECRET", "x")
    kwargs = container_kwargs(spec(env={"MLPERF_SCENARIO": "Offline"}))
    assert kwargs["environment"] == {"MLPERF_SCENARIO": "Offline"}


def test_mounts_limits_labels_and_workdir():
    kwargs = container_kwargs(spec(
        mounts=(Mount(Path("/data/models"), "/models"), Mount(Path("/runs/1"), "/out", read_only=False)),
        mem_limit="2g", shm_size="1g", pids_limit=256, workdir="/out", network="host",
        labels={"org.mlperf-ops.run": "abc"}, read_only_rootfs=False,
    ))
    assert kwargs["volumes"] == {
        "/data/models": {"bind": "/models", "mode": "ro"},
        "/runs/1": {"bind": "/out", "mode": "rw"},
    }
    assert kwargs["mem_limit"] == "2g" and kwargs["memswap_limit"] == "2g"
    assert kwargs["shm_size"] == "1g"
    assert kwargs["pids_limit"] == 256
    assert kwargs["working_dir"] == "/out"
    assert kwargs["network_mode"] == "host"
    assert kwargs["read_only"] is False
    assert kwargs["labels"] == {"org.mlperf-ops.managed": "true", "org.mlperf-ops.run": "abc"}


def test_unknown_network_is_refused():
    with pytest.raises(OperationalError):
        container_kwargs(spec(network="overlay"))


def test_nvidia_by_count():
    (request,) = container_kwargs(spec(gpus=GpuRequest("nvidia", count=2)))["device_requests"]
    assert request["Driver"] == "nvidia"
    assert request["Count"] == 2
    assert request["Capabilities"] == [["gpu"]]
    assert not request["DeviceIDs"]


def test_nvidia_all_gpus():
    (request,) = container_kwargs(spec(gpus=GpuRequest("nvidia")))["device_requests"]
    assert request["Count"] == -1


def test_nvidia_by_ids():
    (request,) = container_kwargs(spec(gpus=GpuRequest("nvidia", device_ids=("0", "GPU-abc"))))[
        "device_requests"]
    assert request["DeviceIDs"] == ["0", "GPU-abc"]
    assert request["Count"] in (None, 0)


def test_nvidia_count_and_ids_together_is_an_error():
    with pytest.raises(OperationalError):
        container_kwargs(spec(gpus=GpuRequest("nvidia", count=1, device_ids=("0",))))


def test_amd_devices_and_groups():
    kwargs = container_kwargs(spec(gpus=GpuRequest("amd")), host_group_ids={"video": 44, "render": 109})
    assert kwargs["devices"] == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
    assert kwargs["group_add"] == ["44", "109"]
    assert "device_requests" not in kwargs
    assert "HIP_VISIBLE_DEVICES" not in kwargs["environment"]


def test_amd_group_names_when_host_has_none():
    kwargs = container_kwargs(spec(gpus=GpuRequest("amd")))
    assert kwargs["group_add"] == ["video", "render"]


def test_amd_selects_gpus_by_visibility():
    kwargs = container_kwargs(spec(gpus=GpuRequest("amd", device_ids=("1", "3")), env={"A": "b"}))
    assert kwargs["environment"] == {"A": "b", "ROCR_VISIBLE_DEVICES": "1,3", "HIP_VISIBLE_DEVICES": "1,3"}
    counted = container_kwargs(spec(gpus=GpuRequest("amd", count=2)))
    assert counted["environment"]["HIP_VISIBLE_DEVICES"] == "0,1"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (requests.exceptions.ConnectionError("reset"), True),
        (docker.errors.APIError("boom", explanation="internal"), False),  # no response: no status
        (docker.errors.ImageNotFound("No such image: x"), False),
        (docker.errors.NotFound("gone"), False),
        (ValueError("x"), False),
    ],
)
def test_transient_classification(error, transient):
    assert is_transient(error) is transient


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.reason = "x"
        self.url = "http://docker/x"


def test_status_codes_decide_retry():
    assert is_transient(docker.errors.APIError("e", response=_Response(500), explanation="server error"))
    assert is_transient(docker.errors.APIError("e", response=_Response(400),
                                               explanation="context deadline exceeded"))
    assert not is_transient(docker.errors.APIError("e", response=_Response(404), explanation="nope"))
    assert not is_transient(docker.errors.APIError("e", response=_Response(500),
                                                   explanation="No such image: foo"))
    assert not is_transient(docker.errors.APIError("e", response=_Response(500),
                                                   explanation="write /x: no space left on device"))


def test_full_disk_is_explained():
    error = translate_error(docker.errors.APIError("e", response=_Response(500),
                                                   explanation="no space left on device"), "building")
    assert "disk space" in error.message
    assert "prune" in (error.hint or "")


def test_dead_engine_is_one_paragraph_and_exit_1():
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "images", "list"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "unix:///nonexistent.sock" in done.stderr
    assert "ensure-docker.sh" in done.stderr
    assert done.stdout == ""
