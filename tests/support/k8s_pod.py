"""A Job rendered by `render k8s`, started the way a kubelet would start its pod, on Docker.

The container of the Job's pod becomes a ContainerSpec for `Engine.run`: its image, command,
env, working directory and user; read-only root, every capability dropped (the engine's
hardening, asserted to be what the Job asks for); the state claim as a writable host
directory, the manifest's ConfigMap as files, hostPath volumes bound read-only at their mount
path, the /tmp emptyDir as the engine's private tmpfs and a sized /dev/shm as --shm-size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlperf_ops.execute.executor import ContainerSpec, Mount, Network


@dataclass(frozen=True)
class Pod:
    spec: ContainerSpec
    state: Path  # the state claim's directory on this host (the ledger apply writes in the pod)


def k8s_size_as_docker(quantity: str) -> str:
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)?", quantity).groups()  # type: ignore[union-attr]
    return number + {None: "", "Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}[unit]


def pod_spec(job: dict[str, Any], configmap: dict[str, Any], tmp_path: Path, labels: dict[str, str], *,
             extra_args: tuple[str, ...] = (), network: Network = "none") -> Pod:
    """The Job's container as a ContainerSpec (`extra_args` appended to its command).

    `network`: the pod's own network namespace is `bridge` (a server elsewhere reached by its
    address, as a Service would be); `none` when the pod reaches nothing.
    """
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)  # what the Job's fsGroup does for the claim: writable by the pod's uid
    mounts: list[Mount] = []
    shm_size: str | None = None
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume and mount["name"] == "state":
            mounts.append(Mount(state, mount["mountPath"], read_only=False))
        elif "configMap" in volume:
            assert volume["configMap"]["name"] == configmap["metadata"]["name"]
            manifest_dir = tmp_path / "configmap"
            manifest_dir.mkdir()
            for key, text in configmap["data"].items():
                (manifest_dir / key).write_text(text)
            mounts.append(Mount(manifest_dir, mount["mountPath"], read_only=bool(mount.get("readOnly"))))
        elif "hostPath" in volume:
            assert mount["readOnly"] is True, mount  # models and data sets are never written
            mounts.append(Mount(Path(volume["hostPath"]["path"]), mount["mountPath"], read_only=True))
        elif mount["mountPath"] == "/tmp":
            assert volume["emptyDir"] == {}  # the engine gives every container a private tmpfs /tmp
        elif mount["mountPath"] == "/dev/shm":
            shm_size = k8s_size_as_docker(volume["emptyDir"]["sizeLimit"])
        else:
            raise AssertionError(f"unexpected volume in the Job: {mount}")
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"] == {"drop": ["ALL"]}
    assert security["allowPrivilegeEscalation"] is False and security["runAsNonRoot"] is True
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    assert not user.startswith("0:")
    limits = container.get("resources", {}).get("limits", {})
    spec = ContainerSpec(
        image=container["image"],
        command=[*container["command"], *extra_args],
        env={e["name"]: e["value"] for e in container["env"]},
        mounts=tuple(mounts),
        workdir=container["workingDir"],
        user=user,
        network=network,
        read_only_rootfs=True,
        mem_limit=k8s_size_as_docker(limits["memory"]) if "memory" in limits else None,
        shm_size=shm_size,
        labels=labels,
    )
    return Pod(spec, state)
