"""The one module that talks to the Docker engine.

Everything else in mlperf-ops works with the plain dataclasses of `execution`
(`ContainerSpec`, `ContainerResult`) and `ImageInfo` here, and never imports `docker`,
so the planner, the ledger and the tests of both run without an engine.

Security defaults live here rather than in callers so no caller can forget them: every
container drops all capabilities, gets no-new-privileges, a read-only root file system
with a private /tmp, no network, the caller's uid:gid, and exactly the environment the
caller passes (never `os.environ`). GPUs are reachable only through an explicit
`GpuRequest`.

Errors: transient daemon trouble (connection reset, 5xx, "context deadline exceeded")
is retried with exponential backoff; permanent trouble (4xx, missing image, full disk)
becomes an `OperationalError` with a hint at once.
"""

from __future__ import annotations

import grp
import json
import os
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, TypeVar


from mlperf_ops.core.errors import EngineUnavailable, OperationalError
from mlperf_ops.execute.executor import UNPRIVILEGED_USER, ContainerResult, ContainerSpec, ExecutorName, GpuRequest

if TYPE_CHECKING:
    import docker
    import docker.errors
    import requests
else:
    from mlperf_ops.core.lazymodule import lazy_module

    # Loaded when the engine is first used: a no-op `apply` never is (~100 ms saved).
    docker = lazy_module("docker")
    requests = lazy_module("requests")

MANAGED_LABEL = "org.mlperf-ops.managed"
LABEL_PREFIX = "org.mlperf-ops."
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
BUILD_LOG_TAIL_LINES = 20
AMD_DEVICES = ("/dev/kfd", "/dev/dri")
AMD_GROUPS = ("video", "render")

T = TypeVar("T")
PruneKind = Literal["containers", "images", "all"]


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


@contextmanager
def handed_over(spec: ContainerSpec) -> Iterator[None]:
    """For a root caller running as the unprivileged user: the writable mounts belong to
    that user during the run and to the caller again afterwards, whatever the run did."""
    if os.getuid() != 0 or spec.user != UNPRIVILEGED_USER:
        yield
        return
    uid, gid = (int(part) for part in UNPRIVILEGED_USER.split(":"))
    writable = [m.source for m in spec.mounts if not m.read_only and m.source.is_dir()]
    for source in writable:
        _chown_tree(source, uid, gid)
    try:
        yield
    finally:
        for source in writable:
            _chown_tree(source, os.getuid(), os.getgid())


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    size_bytes: int
    # Registry digests (repo@sha256:…) of an image that was pulled or pushed; a locally
    # built one has none, and its `id` (the config's sha256) is then its identity.
    repo_digests: tuple[str, ...] = ()
    # The image's CMD and ENV entries (`NAME=value`): what a container of it runs and gets
    # when the run names no command (a controller image records them for the local executor).
    command: tuple[str, ...] = ()
    env: tuple[str, ...] = ()


# --------------------------------------------------------------------------- pure parts


def container_kwargs(
    spec: ContainerSpec, *, host_group_ids: Mapping[str, int] | None = None,
    private_network: str | None = None,
) -> dict[str, Any]:
    """Render `docker.containers.create` keyword arguments for `spec` (pure).

    `host_group_ids` maps the AMD device groups (video, render) to the host's gids: the
    container's /etc/group may not know a `render` group, and the device nodes are owned
    by the host's gid anyway. Without it the names are passed and the engine resolves them.
    `private_network` (a network `create_private_network` made) replaces `spec.network`:
    the container is attached to that network and to nothing else.
    """
    if private_network is None and spec.network not in ("none", "host", "bridge"):
        raise OperationalError(f"unknown container network {spec.network!r}",
                               hint="use one of none, host, bridge")
    labels = {MANAGED_LABEL: "true", **dict(spec.labels)}
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "environment": dict(spec.env),
        "user": spec.user,
        "network_mode": private_network or spec.network,
        "labels": labels,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": spec.read_only_rootfs,
        # A private, size-capped /tmp: the root fs is read-only but Python, onnxruntime and
        # LoadGen still want a scratch directory.
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={spec.tmp_size},mode=1777"},
        "volumes": {
            str(m.source): {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
            for m in spec.mounts
        },
        # docker-init (tini) as PID 1 reaps children and forwards signals to the harness.
        "init": True,
        "detach": True,
        "tty": False,
        "stdin_open": False,
    }
    if spec.workdir is not None:
        kwargs["working_dir"] = spec.workdir
    if spec.mem_limit is not None:
        kwargs["mem_limit"] = spec.mem_limit
        # Same value for memory+swap: no swap, so a run that outgrows its limit is OOM-killed
        # (a clear result) instead of crawling through swap (a misleading latency result).
        kwargs["memswap_limit"] = spec.mem_limit
    if spec.pids_limit is not None:
        kwargs["pids_limit"] = spec.pids_limit
    if spec.shm_size is not None:
        kwargs["shm_size"] = spec.shm_size
    if spec.gpus is not None:
        _add_gpu_kwargs(kwargs, spec.gpus, host_group_ids)
    return kwargs


def _add_gpu_kwargs(
    kwargs: dict[str, Any], gpus: GpuRequest, host_group_ids: Mapping[str, int] | None
) -> None:
    if gpus.count is not None and gpus.device_ids:
        raise OperationalError("a GPU request gives either a count or device ids, not both")
    if gpus.count is not None and gpus.count < 1:
        raise OperationalError(f"GPU count must be at least 1, got {gpus.count}")
    if gpus.vendor == "nvidia":
        from docker.types import DeviceRequest

        if gpus.device_ids:
            request = DeviceRequest(driver="nvidia", device_ids=list(gpus.device_ids),
                                    capabilities=[["gpu"]])
        else:
            # count -1 is the engine's spelling of "all GPUs" (`--gpus all`).
            request = DeviceRequest(driver="nvidia", count=gpus.count if gpus.count else -1,
                                    capabilities=[["gpu"]])
        kwargs["device_requests"] = [request]
        return
    if gpus.vendor == "amd":
        # ROCm needs the compute interface (/dev/kfd) and the DRM nodes; which GPUs the
        # runtime uses is then chosen with the visibility variables.
        kwargs["devices"] = [f"{dev}:{dev}:rwm" for dev in AMD_DEVICES]
        groups = host_group_ids or {}
        kwargs["group_add"] = [str(groups[g]) if g in groups else g for g in AMD_GROUPS]
        visible: list[str] = list(gpus.device_ids)
        if not visible and gpus.count is not None:
            visible = [str(i) for i in range(gpus.count)]
        if visible:
            env = dict(kwargs["environment"])
            env.setdefault("ROCR_VISIBLE_DEVICES", ",".join(visible))
            env.setdefault("HIP_VISIBLE_DEVICES", ",".join(visible))
            kwargs["environment"] = env
        return
    raise OperationalError(f"unknown GPU vendor {gpus.vendor!r}", hint="use nvidia or amd")


def is_transient(error: BaseException) -> bool:
    """Worth another try: the daemon hiccupped, not the request was wrong."""
    if isinstance(error, (docker.errors.ImageNotFound, docker.errors.NotFound)):
        return False
    if isinstance(error, docker.errors.APIError):
        text = str(error).lower()
        if "no such image" in text or "no space left on device" in text:
            return False
        if "context deadline exceeded" in text:
            return True
        status = error.status_code
        return status is not None and status >= 500
    if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return True
    return isinstance(error, (ConnectionResetError, BrokenPipeError))


def translate_error(error: BaseException, doing: str) -> OperationalError:
    """Permanent engine errors as one clear message plus a tip."""
    text = str(error)
    if "no space left on device" in text.lower():
        return OperationalError(
            f"{doing}: the Docker engine ran out of disk space",
            hint="free space with `mlperf-ops images prune` or `docker system prune`",
        )
    if isinstance(error, docker.errors.ImageNotFound):
        return OperationalError(f"{doing}: image not found ({text})",
                                hint="build it with `mlperf-ops images build`")
    return OperationalError(f"{doing}: {text}")


def _host_group_ids() -> dict[str, int]:
    ids: dict[str, int] = {}
    for name in AMD_GROUPS:
        try:
            ids[name] = grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return ids


# --------------------------------------------------------------------------- the engine


class Engine:
    """A connected Docker engine (an `execution.Executor`). Create with `Engine.connect()`."""

    name: ExecutorName = "docker"

    def __init__(self, client: docker.DockerClient, *, attempts: int = 4) -> None:
        self._client = client
        self._attempts = attempts

    @classmethod
    def connect(cls, *, timeout_s: float = 60.0) -> Engine:
        where = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        try:
            # No API version pin: docker-py negotiates one the daemon speaks.
            client = docker.from_env(timeout=int(timeout_s))
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
            raise _unavailable(where, error) from None
        return cls(client)

    def close(self) -> None:
        self._client.close()

    def remove_orphans(self, labels: Mapping[str, str]) -> list[str]:
        """Containers with these labels that an interrupted apply left behind, removed."""
        return self.prune("containers", labels)

    def _retry(self, call: Callable[[], T]) -> T:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential  # ~40 ms: on use

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.25, max=4.0),
            reraise=True,
        )
        return retrying(call)

    # ----------------------------------------------------------------------- images

    def image_info(self, tag: str) -> ImageInfo | None:
        """Look an image up locally; never pulls."""

        def get() -> ImageInfo | None:
            try:
                image = self._client.images.get(tag)
            except docker.errors.ImageNotFound:
                return None
            attrs = image.attrs
            return ImageInfo(
                id=str(image.id),
                tags=tuple(image.tags),
                labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
                size_bytes=int(attrs.get("Size") or 0),
                repo_digests=tuple(str(d) for d in attrs.get("RepoDigests") or ()),
                command=tuple(str(c) for c in (attrs.get("Config") or {}).get("Cmd") or ()),
                env=tuple(str(e) for e in (attrs.get("Config") or {}).get("Env") or ()),
            )

        try:
            return self._retry(get)
        except docker.errors.DockerException as error:
            raise translate_error(error, f"looking up image {tag}") from None

    def require_image(self, tag: str, target: str | None = None) -> ImageInfo:
        info = self.image_info(tag)
        if info is None:
            what = f"image {tag}" + (f" for target {target!r}" if target else "")
            command = f"mlperf-ops images build {target}" if target else "mlperf-ops images build"
            raise OperationalError(f"{what} is not built on this engine (images are never pulled)",
                                   hint=f"run `{command}`")
        return info

    def build(
        self,
        context_dir: Path,
        tag: str,
        labels: Mapping[str, str],
        buildargs: Mapping[str, str],
        log_path: Path,
        on_line: Callable[[str], None] | None = None,
        *,
        network_mode: str = "none",
        nocache: bool = False,
    ) -> str:
        """Build `context_dir` (classic builder, no network) and return the image id."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        tail: deque[str] = deque(maxlen=BUILD_LOG_TAIL_LINES)
        error_text: str | None = None
        image_id: str | None = None
        with log_path.open("w", encoding="utf-8") as log:

            def emit(line: str) -> None:
                log.write(line + "\n")
                log.flush()
                tail.append(line)
                if on_line is not None:
                    on_line(line)

            try:
                stream = self._client.api.build(
                    path=str(context_dir), tag=tag, labels=dict(labels), buildargs=dict(buildargs),
                    network_mode=network_mode, rm=True, forcerm=True, pull=False, decode=True,
                    nocache=nocache,
                )
                for chunk in stream:
                    for line in _build_chunk_lines(chunk):
                        emit(line)
                    if "error" in chunk:
                        error_text = str(chunk.get("error", "")).strip()
                    aux = chunk.get("aux")
                    if isinstance(aux, dict) and "ID" in aux:
                        image_id = str(aux["ID"])
            except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
                error_text = str(error)
                emit(f"ERROR: {error_text}")
        if error_text is not None:
            message = f"building {tag} failed: {error_text}"
            if "no space left on device" in error_text.lower():
                message = f"building {tag} failed: the Docker engine ran out of disk space"
            raise OperationalError(
                message + "\n--- last build lines ---\n" + "\n".join(tail),
                hint=f"full build log: {log_path}",
            )
        info = self.image_info(tag)
        if info is None:
            raise OperationalError(f"building {tag} finished but the image is missing",
                                   hint=f"full build log: {log_path}")
        return image_id or info.id

    def import_rootfs(self, tar_path: Path, tag: str, labels: Mapping[str, str]) -> str:
        """`docker import` a root file system tar as `tag` with `labels`; returns the image id."""
        repository, _, version = tag.rpartition(":")
        if not repository or "/" in version:
            repository, version = tag, "latest"
        changes = [f"LABEL {json.dumps(k)}={json.dumps(v)}" for k, v in sorted(labels.items())]
        changes.append('ENV PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"')
        changes.append('CMD ["/bin/bash"]')
        try:
            self._client.api.import_image_from_file(
                str(tar_path), repository=repository, tag=version, changes=changes
            )
        except docker.errors.DockerException as error:
            raise translate_error(error, f"importing {tar_path} as {tag}") from None
        return self.require_image(tag).id

    def remove_image(self, ref: str) -> None:
        try:
            self._client.images.remove(ref, force=False, noprune=False)
        except docker.errors.ImageNotFound:
            return
        except docker.errors.DockerException as error:
            raise translate_error(error, f"removing image {ref}") from None

    def tag_image(self, image_id: str, tag: str) -> None:
        repository, _, version = tag.rpartition(":")
        try:
            self._client.images.get(image_id).tag(repository, version)
        except docker.errors.DockerException as error:
            raise translate_error(error, f"tagging {image_id} as {tag}") from None

    # ----------------------------------------------------------------------- containers

    def run(
        self,
        spec: ContainerSpec,
        log_path: Path,
        on_line: Callable[[str], None] | None = None,
        timeout_s: float = 3600.0,
    ) -> ContainerResult:
        """Run `spec` to completion, streaming its output; the container is removed after."""
        with handed_over(spec):
            return self._run(spec, log_path, on_line, timeout_s)

    def run_on_network(self, spec: ContainerSpec, network: str, log_path: Path,
                       on_line: Callable[[str], None] | None = None, timeout_s: float = 3600.0) -> ContainerResult:
        """`run`, attached to the private network `network` only (a sidecar's; see `start_service`)."""
        with handed_over(spec):
            return self._run(spec, log_path, on_line, timeout_s, network)

    def _run(self, spec: ContainerSpec, log_path: Path, on_line: Callable[[str], None] | None,
             timeout_s: float, private_network: str | None = None) -> ContainerResult:
        self.require_image(spec.image)
        kwargs = container_kwargs(
            spec, host_group_ids=_host_group_ids() if spec.gpus and spec.gpus.vendor == "amd" else None,
            private_network=private_network,
        )
        kwargs.pop("detach", None)
        image = kwargs.pop("image")
        command = kwargs.pop("command")
        try:
            container = self._retry(lambda: self._client.containers.create(image, command, **kwargs))
        except docker.errors.DockerException as error:
            raise translate_error(error, f"creating a container from {image}") from None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        timed_out = False
        started = time.monotonic()
        try:
            try:
                container.start()
            except docker.errors.DockerException as error:
                raise translate_error(error, f"starting a container from {image}") from None
            pump = _LogPump(container, log_path, on_line)
            pump.start()
            try:
                status = container.wait(timeout=timeout_s)
                exit_code = int(status.get("StatusCode", -1))
            except requests.exceptions.RequestException:
                # docker-py reports a wait timeout as a requests ConnectionError/ReadTimeout.
                timed_out = True
                self._kill(container)
                status = self._retry(lambda: container.wait(timeout=30))
                exit_code = int(status.get("StatusCode", -1))
            duration = time.monotonic() - started
            pump.join(timeout=30)
            container.reload()
            state = container.attrs.get("State") or {}
            oom = bool(state.get("OOMKilled")) or (
                exit_code == 137 and not timed_out and spec.mem_limit is not None
            )
            return ContainerResult(
                exit_code=exit_code, oom_killed=oom, timed_out=timed_out,
                duration_s=duration, log_path=log_path, container_id=str(container.id),
            )
        finally:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.DockerException:
                # Leftovers are labelled managed, so `mlperf-ops images prune` finds them.
                pass

    @staticmethod
    def _kill(container: Any) -> None:
        try:
            container.kill()
        except docker.errors.APIError:
            pass  # it may have exited between the timeout and the kill

    # ----------------------------------------------------------------------- cleanup

    def prune(self, kind: PruneKind, labels: Mapping[str, str] | None = None) -> list[str]:
        """Remove mlperf-ops containers and/or images (only those labelled managed).

        `labels` narrows further (tests pass their own `org.mlperf-ops.test=<id>`).
        Returns what was removed: container ids, image tags (or ids when untagged).
        """
        if kind not in ("containers", "images", "all"):
            raise OperationalError(f"unknown prune kind {kind!r}",
                                   hint="use containers, images or all")
        removed: list[str] = []
        try:
            if kind in ("containers", "all"):
                for container in self._client.containers.list(all=True, filters=_label_filter(labels)):
                    container.remove(force=True)
                    removed.append(str(container.id))
            if kind in ("images", "all"):
                removed.extend(self._prune_images(labels))
        except docker.errors.DockerException as error:
            raise translate_error(error, "pruning") from None
        return removed

    def _prune_images(self, labels: Mapping[str, str] | None) -> list[str]:
        removed: list[str] = []
        # Images built FROM another managed image (cpu FROM base) must go first; a few passes
        # remove children before parents without computing the graph.
        for _ in range(4):
            pending = self._client.images.list(filters=_label_filter(labels))
            if not pending:
                break
            for image in pending:
                names = list(image.tags) or [str(image.id)]
                try:
                    for name in names:
                        self._client.images.remove(name, force=False)
                    removed.extend(names)
                except docker.errors.APIError as error:
                    if error.status_code == 409:  # in use by a child image or a container
                        continue
                    raise
        return removed

    def list_images(self, labels: Mapping[str, str] | None = None) -> list[ImageInfo]:
        try:
            images = self._retry(lambda: self._client.images.list(filters=_label_filter(labels)))
        except docker.errors.DockerException as error:
            raise translate_error(error, "listing images") from None
        return [
            ImageInfo(id=str(i.id), tags=tuple(i.tags),
                      labels=dict((i.attrs.get("Config") or {}).get("Labels") or {}),
                      size_bytes=int(i.attrs.get("Size") or 0))
            for i in images
        ]

    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[str]:
        containers = self._retry(
            lambda: self._client.containers.list(all=True, filters=_label_filter(labels))
        )
        return [str(c.id) for c in containers]

    # ----------------------------------------------------------------------- services (LLM sidecars)
    # A service is a long-running container (an inference server) that other containers reach
    # by an alias on a private network that reaches nothing else: `internal` (no route out)
    # and, because an internal bridge still holds an address of the host (from which every
    # host service listening on 0.0.0.0 answers, whatever its interface), with no host address
    # on the bridge at all (`inhibit_ipv4`). Containers on it reach each other and nothing else.

    def create_private_network(self, name: str, labels: Mapping[str, str]) -> str:
        """An internal bridge network without a host address (see above); its id."""
        try:
            network = self._retry(lambda: self._client.networks.create(
                name, driver="bridge", internal=True, check_duplicate=True,
                options={"com.docker.network.bridge.inhibit_ipv4": "true"},
                labels={MANAGED_LABEL: "true", **dict(labels)}))
        except docker.errors.DockerException as error:
            raise translate_error(error, f"creating the private network {name}") from None
        return str(network.id)

    def network_info(self, name: str) -> dict[str, Any] | None:
        """The engine's view of a network (`Internal`, `Containers`, `Labels`, …), or None."""
        try:
            network = self._client.networks.get(name)
            network.reload()
        except docker.errors.NotFound:
            return None
        except docker.errors.DockerException as error:
            raise translate_error(error, f"looking up network {name}") from None
        return dict(network.attrs)

    def remove_networks(self, labels: Mapping[str, str]) -> list[str]:
        """Remove the managed networks carrying `labels` (their containers must be gone); names."""
        removed: list[str] = []
        try:
            for network in self._client.networks.list(filters=_label_filter(labels)):
                try:
                    network.remove()
                except docker.errors.NotFound:
                    continue
                removed.append(str(network.name))
        except docker.errors.DockerException as error:
            raise translate_error(error, "removing networks") from None
        return removed

    def start_service(self, spec: ContainerSpec, network: str, alias: str) -> str:
        """Create and start `spec` detached on `network`, reachable there as `alias`; its id.

        The same hardening as every run (`container_kwargs`); the caller stops it with
        `stop_service`, and a leftover is found again by its labels.
        """
        self.require_image(spec.image)
        from docker.types import EndpointConfig

        kwargs = container_kwargs(
            spec, host_group_ids=_host_group_ids() if spec.gpus and spec.gpus.vendor == "amd" else None,
            private_network=network)
        kwargs.pop("detach", None)
        kwargs.pop("network_mode")
        image, command = kwargs.pop("image"), kwargs.pop("command")
        kwargs["network"] = network
        kwargs["networking_config"] = {network: EndpointConfig(self._client.api._version, aliases=[alias])}
        try:
            container = self._retry(lambda: self._client.containers.create(image, command, **kwargs))
        except docker.errors.DockerException as error:
            raise translate_error(error, f"creating a container from {image}") from None
        try:
            container.start()
        except docker.errors.DockerException as error:
            self._remove_quietly(container)
            raise translate_error(error, f"starting a container from {image}") from None
        return str(container.id)

    def service_status(self, container_id: str) -> tuple[str, int | None]:
        """(`running` | `exited` | … | `gone`, the exit code once it has exited)."""
        try:
            container = self._client.containers.get(container_id)
        except docker.errors.NotFound:
            return "gone", None
        except docker.errors.DockerException as error:
            raise translate_error(error, f"inspecting container {container_id[:12]}") from None
        state = container.attrs.get("State") or {}
        status = str(state.get("Status") or container.status)
        return status, (int(state.get("ExitCode", -1)) if status in ("exited", "dead") else None)

    def service_logs(self, container_id: str, tail: int | None = None) -> str:
        """A service's output so far (its last `tail` lines), '' once it is gone."""
        try:
            container = self._client.containers.get(container_id)
            raw = container.logs(stdout=True, stderr=True, tail="all" if tail is None else tail)
        except docker.errors.NotFound:
            return ""
        except docker.errors.DockerException as error:
            raise translate_error(error, f"reading the output of container {container_id[:12]}") from None
        return bytes(raw).decode("utf-8", "replace")

    def stop_service(self, container_id: str, grace_s: int = 10) -> None:
        """Stop (SIGTERM, then SIGKILL after `grace_s`) and remove a service; gone already is fine."""
        try:
            container = self._client.containers.get(container_id)
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException as error:
            raise translate_error(error, f"stopping container {container_id[:12]}") from None
        try:
            container.stop(timeout=grace_s)
        except docker.errors.DockerException:
            pass  # it may have exited meanwhile; the removal below is what matters
        self._remove_quietly(container)

    @staticmethod
    def _remove_quietly(container: Any) -> None:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException:
            pass  # labelled: the next `apply` (or `images prune`) removes it


def _label_filter(labels: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Daemon-side filter: managed AND every given label (containers inherit image labels)."""
    return {"label": [f"{MANAGED_LABEL}=true"] + [f"{k}={v}" for k, v in (labels or {}).items()]}


def _unavailable(where: str, error: BaseException) -> EngineUnavailable:
    text = str(error)
    if "permission denied" in text.lower():
        return EngineUnavailable(
            f"The Docker engine at {where} refused this user (permission denied on its socket). "
            "mlperf-ops builds images and runs LoadGen in containers, so it needs an engine it may "
            "talk to.",
            hint='add yourself to the docker group (sudo usermod -aG docker "$USER", then log in '
            "again) or point DOCKER_HOST at an engine you may use",
        )
    return EngineUnavailable(
        f"No Docker engine answers at {where} ({_short(text)}). mlperf-ops builds images and runs "
        "LoadGen in containers, so it needs a running engine: on Linux run "
        "`bash scripts/ensure-docker.sh` (or `make setup`), which installs and starts dockerd when "
        "it can; with Docker Desktop start it and wait until it runs; for a remote or rootless "
        "engine set DOCKER_HOST.",
        hint="bash scripts/ensure-docker.sh",
    )


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _build_chunk_lines(chunk: Mapping[str, Any]) -> Iterator[str]:
    if "stream" in chunk:
        for line in str(chunk["stream"]).splitlines():
            if line.strip():
                yield line.rstrip()
    elif "status" in chunk:
        yield str(chunk["status"]) + (f" {chunk['progress']}" if chunk.get("progress") else "")
    elif "error" in chunk:
        yield f"ERROR: {str(chunk['error']).strip()}"


class _LogPump(threading.Thread):
    """Copies a container's output to its log file and `on_line` as it arrives."""

    def __init__(self, container: Any, log_path: Path,
                 on_line: Callable[[str], None] | None) -> None:
        super().__init__(name=f"log-{str(container.id)[:12]}", daemon=True)
        self._container = container
        self._log_path = log_path
        self._on_line = on_line

    def run(self) -> None:
        pending = b""
        with self._log_path.open("wb") as log:
            try:
                for chunk in self._container.logs(stream=True, follow=True, stdout=True, stderr=True):
                    log.write(chunk)
                    log.flush()
                    if self._on_line is None:
                        continue
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self._on_line(line.decode("utf-8", "replace").rstrip("\r"))
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                pass  # the container went away (killed on timeout); what we have is kept
            if pending and self._on_line is not None:
                self._on_line(pending.decode("utf-8", "replace").rstrip("\r"))
