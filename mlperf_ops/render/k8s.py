"""Kubernetes Jobs for cluster users: one `batch/v1` Job per system under test.

On a cluster the orchestration engine is Kubernetes itself (README, "Kubernetes"): we
do not schedule anything, we only describe one Job per system that runs the same
`mlperf-ops apply MANIFEST --system ID` a self-hosted CI runner would run. Everything
here is a pure function from plain data to plain dicts, so the rendering is testable
without a cluster; `mlperf_ops.cli.cmd_render` turns the dicts into YAML.

Contract of the pod (what the image and the cluster must provide):
- the system's image contains the `mlperf-ops` command and the harness, and the project
  files `apply` reads besides the manifest (`pipelines/`, `images/`) under `project_dir`:
  the controller image (`mlperf-ops images build controller --for TARGET`, images/controller/)
  built FROM the harness target's image is exactly that, and it records the harness
  image's CMD and the names of its ENV for the local executor (execute/local.py), which
  cannot ask an engine for them in the pod;
- the manifest itself comes from a ConfigMap (see `render_manifest_configmap`), so a
  tuning change needs no image rebuild;
- the ledger lives on a PersistentVolumeClaim shared by every system's Job. Records are
  written atomically per run key, so concurrent Jobs never write the same file; a claim
  mounted by pods on several nodes must be ReadWriteMany;
- inside the pod there is no Docker engine: the pod *is* the harness container, so
  `apply` is told (MLPERF_OPS_EXECUTOR=local) to run the harness in-process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mlperf_ops.core.errors import UsageError

# GPU vendors -> the extended resource their device plugin advertises. "other"
# accelerators have no common device plugin, so asking for them must be explicit.
GPU_RESOURCES: Mapping[str, str] = {
    "nvidia": "nvidia.com/gpu",
    "amd": "amd.com/gpu",
}

STATE_MOUNT = "/var/lib/mlperf-ops"
MANIFEST_MOUNT = "/etc/mlperf-ops/manifest"
DEFAULT_PROJECT_DIR = "/opt/mlperf-ops"
# A non-root uid/gid that exists in no base image by accident; fsGroup makes the PVC
# writable for it without running anything as root.
RUN_AS_UID = 10001
# A crashed pod is safe to retry: apply resumes from the ledger and never repeats a
# finished run. Two retries cover a node loss without looping on a real fault.
BACKOFF_LIMIT = 2
# Keep finished Jobs (and their pod logs) a week for inspection, then let the cluster
# clean them up.
TTL_AFTER_FINISHED_S = 7 * 24 * 3600
# Exit codes that retrying cannot fix (README, "The verbs"): 2 = invalid manifest or
# usage, 3 = submission check failed. Exit 1 (operational) is retried.
PERMANENT_EXIT_CODES = (2, 3)

_LABEL_VALUE_MAX = 63
_NAME_PREFIX = "mlperf-ops-"


@dataclass(frozen=True)
class K8sSystem:
    """What a Job needs to know about one system under test.

    `timeout_s` is the wall-clock deadline of the whole Job (all of the system's pending
    runs), not of one run.
    """

    id: str
    image: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_vendor: str | None = None
    gpu_count: int = 0
    timeout_s: int = 24 * 3600
    memory: str | None = None  # Docker-style size ("6g"), the container's memory limit
    shm: str | None = None  # Docker-style size of /dev/shm (Kubernetes gives 64 MiB otherwise)
    artifacts: tuple["K8sArtifact", ...] = ()  # models and data sets, mounted read-only


@dataclass(frozen=True)
class K8sArtifact:
    """A model or data set mounted read-only in the pod at `mount_path` (the manifest's `path`).

    The pod runs `apply` with the local executor, which checks the artifact's digest and hands
    the harness that very path: so it must exist there, whatever the node calls it.
    """

    mount_path: str
    host_path: str | None = None
    claim: str | None = None
    sub_path: str | None = None

    def volume(self, name: str) -> dict[str, Any]:
        if self.claim:
            return {"name": name, "persistentVolumeClaim": {"claimName": self.claim, "readOnly": True}}
        return {"name": name, "hostPath": {"path": self.host_path or self.mount_path}}

    def mount(self, name: str) -> dict[str, Any]:
        mount: dict[str, Any] = {"name": name, "mountPath": self.mount_path, "readOnly": True}
        if self.claim and self.sub_path:
            mount["subPath"] = self.sub_path
        return mount


_DOCKER_UNITS = {"": "", "b": "", "k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}


def quantity(docker_size: str) -> str:
    """A Docker size (`6g`, `512m`, `1073741824`) as a Kubernetes quantity (`6Gi`).

    Docker's k/m/g are powers of 1024, so they map to the binary suffixes.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([bkmgt]?)b?\s*", docker_size.lower())
    if not match:
        raise UsageError(f"size {docker_size!r} is not a number with an optional k/m/g/t unit", hint="e.g. 6g or 512m")
    return match.group(1) + _DOCKER_UNITS[match.group(2)]


def gpu_limits(vendor: str | None, count: int) -> dict[str, str]:
    """The extended-resource limits for `count` accelerators of `vendor` (empty for CPU)."""
    if count < 0:
        raise UsageError(f"accelerator count must not be negative, got {count}")
    if count == 0 or vendor is None:
        return {}
    resource = GPU_RESOURCES.get(vendor)
    if resource is None:
        raise UsageError(
            f"no Kubernetes device resource is known for accelerator vendor {vendor!r}",
            hint=f"known vendors: {', '.join(sorted(GPU_RESOURCES))}; for another device, "
            "add its resource limit to the rendered Job yourself",
        )
    # Kubernetes quantities are strings in the API; an int would also validate but
    # a string keeps the output identical to what `kubectl get -o yaml` shows.
    return {resource: str(count)}


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def job_name(system_id: str) -> str:
    """A DNS-1123 label naming the system's Job, unique per system id.

    Manifest ids may hold upper case, `_` and `.`, which Job names may not; when the id
    had to be changed (or shortened) a hash of the original keeps two ids that differ
    only there from colliding.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", system_id.lower()).strip("-") or "system"
    name = _NAME_PREFIX + slug
    # The Job controller copies the name into the `job-name` label (max 63) and pod
    # names get a 5-character suffix, so stay at 63 overall.
    if slug != system_id or len(name) > _LABEL_VALUE_MAX:
        suffix = "-" + _short_hash(system_id)
        name = name[: _LABEL_VALUE_MAX - len(suffix)].rstrip("-") + suffix
    return name


def label_value(text: str) -> str:
    """`text` as a valid label value (63 chars, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)
    if len(value) > _LABEL_VALUE_MAX:
        value = value[: _LABEL_VALUE_MAX - 9] + "-" + _short_hash(text)
    return value.strip("-_.")


def with_registry(image: str, prefix: str | None) -> str:
    """`image` as pulled from the registry `prefix` (e.g. `registry.example/team`)."""
    if not prefix:
        return image
    prefix = prefix.rstrip("/")
    if image.startswith(prefix + "/"):
        return image
    return f"{prefix}/{image}"


def common_labels(system_id: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "mlperf-ops",
        "app.kubernetes.io/component": "apply",
        "app.kubernetes.io/managed-by": "mlperf-ops",
        "mlperf-ops/system": label_value(system_id),
    }


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_UID,
        "runAsGroup": RUN_AS_UID,
        "fsGroup": RUN_AS_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _tolerations(vendor: str | None, count: int) -> list[dict[str, str]]:
    # GPU node pools are commonly tainted with the device resource name so that only
    # pods asking for GPUs land there; tolerate exactly that taint and nothing else.
    resource = GPU_RESOURCES.get(vendor or "")
    if count <= 0 or resource is None:
        return []
    return [{"key": resource, "operator": "Exists", "effect": "NoSchedule"}]


def render_job(
    system: K8sSystem,
    *,
    manifest_path: str,
    namespace: str,
    state_pvc: str,
    manifest_configmap: str | None = None,
    project_dir: str = DEFAULT_PROJECT_DIR,
) -> dict[str, Any]:
    """One system's Job. See `render_jobs`."""
    if system.timeout_s <= 0:
        raise UsageError(f"system {system.id!r}: the Job deadline must be positive, got {system.timeout_s}s")
    labels = common_labels(system.id)
    in_pod_manifest = (
        f"{MANIFEST_MOUNT}/{PurePosixPath(manifest_path).name}" if manifest_configmap else manifest_path
    )
    volume_mounts: list[dict[str, Any]] = [
        {"name": "state", "mountPath": STATE_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "state", "persistentVolumeClaim": {"claimName": state_pvc}},
        # The root file system is read-only; LoadGen and Python still need scratch space.
        {"name": "tmp", "emptyDir": {}},
    ]
    if system.shm:
        # Data loaders share tensors through /dev/shm; a memory-backed emptyDir is the
        # Kubernetes way to size it.
        volume_mounts.append({"name": "shm", "mountPath": "/dev/shm"})
        volumes.append({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": quantity(system.shm)}})
    if manifest_configmap:
        volume_mounts.append({"name": "manifest", "mountPath": MANIFEST_MOUNT, "readOnly": True})
        volumes.append({"name": "manifest", "configMap": {"name": manifest_configmap}})
    for number, artifact in enumerate(system.artifacts):
        volume_mounts.append(artifact.mount(f"artifact-{number}"))
        volumes.append(artifact.volume(f"artifact-{number}"))

    container: dict[str, Any] = {
        "name": "apply",
        "image": system.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["mlperf-ops", "apply", in_pod_manifest, "--system", system.id],
        "workingDir": project_dir,
        "env": [
            {"name": "MLPERF_OPS_STATE", "value": STATE_MOUNT},
            {"name": "MLPERF_OPS_PROJECT", "value": project_dir},
            {"name": "MLPERF_OPS_EXECUTOR", "value": "local"},
            # The uid has no home directory in the image and / is read-only.
            {"name": "HOME", "value": "/tmp"},
            # Plain progress lines: pod logs are not a terminal.
            {"name": "CI", "value": "true"},
        ],
        "securityContext": _security_context(),
        "volumeMounts": volume_mounts,
    }
    limits = gpu_limits(system.gpu_vendor, system.gpu_count)
    if system.memory:
        limits["memory"] = quantity(system.memory)
    if limits:
        container["resources"] = {"limits": limits}

    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # The controller needs no access to the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": _pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    if system.node_selector:
        pod_spec["nodeSelector"] = dict(sorted(system.node_selector.items()))
    tolerations = _tolerations(system.gpu_vendor, system.gpu_count)
    if tolerations:
        pod_spec["tolerations"] = tolerations

    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(system.id),
            "namespace": namespace,
            "labels": labels,
            "annotations": {"mlperf-ops/system-id": system.id, "mlperf-ops/manifest": manifest_path},
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": system.timeout_s,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": "apply",
                            "operator": "In",
                            "values": list(PERMANENT_EXIT_CODES),
                        },
                    },
                    # A pod evicted or preempted did not fail on its own: retry it
                    # without spending the backoff budget.
                    {
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget"}],
                    },
                ]
            },
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def render_jobs(
    systems: Sequence[K8sSystem],
    *,
    manifest_path: str,
    namespace: str,
    state_pvc: str,
    manifest_configmap: str | None = None,
    project_dir: str = DEFAULT_PROJECT_DIR,
) -> list[dict[str, Any]]:
    """One `batch/v1` Job per system, in the order given.

    `manifest_path` is the manifest as the user named it; when `manifest_configmap` is
    set the pod reads it from that ConfigMap (mounted at MANIFEST_MOUNT), otherwise the
    path must exist inside the image.
    """
    names: dict[str, str] = {}
    for system in systems:
        name = job_name(system.id)
        if name in names:
            raise UsageError(
                f"systems {names[name]!r} and {system.id!r} map to the same Job name {name!r}",
                hint="give each system a distinct id",
            )
        names[name] = system.id
    return [
        render_job(
            system,
            manifest_path=manifest_path,
            namespace=namespace,
            state_pvc=state_pvc,
            manifest_configmap=manifest_configmap,
            project_dir=project_dir,
        )
        for system in systems
    ]


def configmap_name(manifest_path: str) -> str:
    """The ConfigMap carrying a manifest: named after the file, unique per path."""
    stem = re.sub(r"[^a-z0-9-]+", "-", PurePosixPath(manifest_path).stem.lower()).strip("-") or "manifest"
    suffix = "-" + _short_hash(manifest_path)
    base = f"{_NAME_PREFIX}manifest-{stem}"
    return base[: _LABEL_VALUE_MAX - len(suffix)].rstrip("-") + suffix


def render_manifest_configmap(*, name: str, namespace: str, manifest_path: str, text: str) -> dict[str, Any]:
    """A ConfigMap holding the manifest's text under its file name."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "mlperf-ops",
                "app.kubernetes.io/component": "manifest",
                "app.kubernetes.io/managed-by": "mlperf-ops",
            },
            "annotations": {"mlperf-ops/manifest": manifest_path},
        },
        "data": {PurePosixPath(manifest_path).name: text},
    }
