"""The typed, frozen manifest that the rest of the tool works with.

Built only from a document that passed the schema, so construction does not
re-validate; cross-checks against the round's rules happen in `crosscheck`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlperf_ops.core.loadgen import LoadGenValue


@dataclass(frozen=True)
class Artifact:
    path: str
    sha256: str
    name: str | None = None
    # `render k8s`: where a Job's pod gets it from (else the node's `path`); never in run keys.
    k8s_host_path: str | None = None
    k8s_claim: str | None = None
    k8s_sub_path: str | None = None


@dataclass(frozen=True)
class Accelerator:
    vendor: str  # nvidia | amd | other
    model: str
    count: int
    memory: str | None = None
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerLimits:
    network: str = "none"
    memory: str | None = None
    pids: int | None = None
    shm: str | None = None
    timeout_s: int | None = None


@dataclass(frozen=True)
class ScenarioSpec:
    scenario: str
    settings: tuple[tuple[str, LoadGenValue], ...] = ()  # sorted user.conf keys

    def as_dict(self) -> dict[str, LoadGenValue]:
        return dict(self.settings)


SIDECAR_ALIAS = "llm-server"  # the sidecar's name on its private network
SIDECAR_MODEL_MOUNT = "/mlperf/model"


@dataclass(frozen=True)
class Sidecar:
    """An inference server container that `apply` starts (mlperf_ops/run/sidecar.py)."""

    image: str
    port: int
    command: tuple[str, ...] | None = None
    gpus: str | int | tuple[str, ...] | None = None  # "all" | a count | device ids
    model_mount: str | None = None  # where the benchmark's model: goes (None: SIDECAR_MODEL_MOUNT)
    env: tuple[tuple[str, str], ...] = ()
    shm: str | None = None
    health_timeout_s: int = 600

    @property
    def url(self) -> str:
        return f"http://{SIDECAR_ALIAS}:{self.port}"

    def key(self) -> dict[str, object]:
        """What decides which server answers: part of the run keys (not the health timeout)."""
        return {"image": self.image, "port": self.port, "command": list(self.command or ()),
                "gpus": list(self.gpus) if isinstance(self.gpus, tuple) else self.gpus,
                "model_mount": self.model_mount, "env": dict(self.env), "shm": self.shm}


@dataclass(frozen=True)
class LlmServer:
    """An OpenAI-compatible server the LLM endpoint harness drives (README: LLM benchmarks).

    With a `sidecar`, `url` is where the harness reaches it on the private network."""

    url: str
    concurrency: int | None = None
    prompt: str | None = None  # tokens | text
    token_ids: str | None = None  # server | vocab
    sidecar: Sidecar | None = None
    declared_url: bool = True  # False: `url` was derived from the sidecar

    def key(self) -> dict[str, object]:
        """The run-key part: the harness's variables, and the sidecar's declaration if any."""
        out: dict[str, object] = dict(self.env())
        if self.sidecar is not None:
            out["sidecar"] = self.sidecar.key()
        return out

    def env(self) -> dict[str, str]:
        """The harness's MLPERF_LLM_* variables (mlperf_ops/harness/llm/runner.py)."""
        out = {"MLPERF_LLM_URL": self.url}
        if self.concurrency is not None:
            out["MLPERF_LLM_CONCURRENCY"] = str(self.concurrency)
        if self.prompt is not None:
            out["MLPERF_LLM_PROMPT"] = self.prompt
        if self.token_ids is not None:
            out["MLPERF_LLM_TOKEN_IDS"] = self.token_ids
        return out


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str  # the directory name in results/: official benchmark or custom model name
    official: str  # the official benchmark it is judged as (== name unless maps_to)
    scenarios: tuple[ScenarioSpec, ...]
    loadgen: tuple[tuple[str, LoadGenValue], ...] = ()
    command: tuple[str, ...] | None = None
    accuracy_command: tuple[str, ...] | None = None  # the image's accuracy script (docs/harness.md)
    source: str | None = None  # harness source directory for src/, as written in the manifest
    image: str | None = None
    model: Artifact | None = None
    dataset: Artifact | None = None
    compliance: tuple[str, ...] | None = None  # None: what the round requires
    measurements: tuple[tuple[str, str], ...] = ()
    eos_token_id: int | None = None
    token_dtype: str = "int32"
    server: LlmServer | None = None

    @property
    def custom(self) -> bool:
        return self.name != self.official

    def scenario(self, name: str) -> ScenarioSpec:
        for spec in self.scenarios:
            if spec.scenario == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True)
class SystemSpec:
    id: str
    image: str
    benchmarks: tuple[BenchmarkSpec, ...]
    name: str | None = None
    runner_labels: tuple[str, ...] = ("self-hosted",)
    node_selector: tuple[tuple[str, str], ...] = ()
    accelerator: Accelerator | None = None
    container: ContainerLimits = field(default_factory=ContainerLimits)
    description: tuple[tuple[str, Any], ...] = ()

    def description_dict(self) -> dict[str, Any]:
        return dict(self.description)


@dataclass(frozen=True)
class Manifest:
    path: str
    version: int
    round: str
    submitter: str
    division: str
    status: str
    system_type: str
    pipeline: str
    systems: tuple[SystemSpec, ...]
    calibration_md: str | None = None  # as written in the manifest (relative to it)

    def system(self, system_id: str) -> SystemSpec:
        for system in self.systems:
            if system.id == system_id:
                return system
        raise KeyError(system_id)


def _settings(raw: dict[str, Any] | None) -> tuple[tuple[str, LoadGenValue], ...]:
    return tuple(sorted((raw or {}).items()))


def _artifact(raw: dict[str, Any] | None) -> Artifact | None:
    if not raw:
        return None
    k8s = raw.get("kubernetes") or {}
    return Artifact(path=raw["path"], sha256=raw["sha256"], name=raw.get("name"),
                    k8s_host_path=k8s.get("host_path"), k8s_claim=k8s.get("claim"), k8s_sub_path=k8s.get("sub_path"))


def _benchmark(raw: dict[str, Any]) -> BenchmarkSpec:
    compliance = raw.get("compliance")
    command = raw.get("command")
    accuracy_command = raw.get("accuracy_command")
    return BenchmarkSpec(
        name=raw["name"],
        official=raw.get("maps_to") or raw["name"],
        scenarios=tuple(
            ScenarioSpec(scenario=name, settings=_settings(settings))
            for name, settings in raw["scenarios"].items()
        ),
        loadgen=_settings(raw.get("loadgen")),
        command=tuple(command) if command else None,
        accuracy_command=tuple(accuracy_command) if accuracy_command else None,
        source=raw.get("source"),
        image=raw.get("image"),
        model=_artifact(raw.get("model")),
        dataset=_artifact(raw.get("dataset")),
        compliance=tuple(compliance) if compliance is not None else None,
        measurements=tuple(sorted((raw.get("measurements") or {}).items())),
        eos_token_id=raw.get("eos_token_id"),
        token_dtype=raw.get("token_dtype", "int32"),
        server=_server(raw.get("server")),
    )


def _server(raw: dict[str, Any] | None) -> LlmServer | None:
    if not raw:
        return None
    side = raw.get("sidecar")
    sidecar = None
    if isinstance(side, dict):
        gpus = side.get("gpus")
        command = side.get("command")
        sidecar = Sidecar(image=side["image"], port=int(side["port"]), command=tuple(command) if command else None,
                          gpus=tuple(gpus) if isinstance(gpus, list) else gpus, model_mount=side.get("model_mount"),
                          env=tuple(sorted((side.get("env") or {}).items())), shm=side.get("shm"),
                          health_timeout_s=int(side.get("health_timeout_s", 600)))
    # Neither url nor sidecar (or both) is a validation problem (llm_server.py); "" keeps
    # the model buildable so every problem is reported at once.
    url = raw.get("url") or (sidecar.url if sidecar else "")
    return LlmServer(url=url, concurrency=raw.get("concurrency"), prompt=raw.get("prompt"),
                     token_ids=raw.get("token_ids"), sidecar=sidecar, declared_url="url" in raw)


def _system(raw: dict[str, Any]) -> SystemSpec:
    acc = raw.get("accelerator")
    container = raw.get("container") or {}
    return SystemSpec(
        id=raw["id"],
        name=raw.get("name"),
        image=raw["image"],
        runner_labels=tuple((raw.get("runner") or {}).get("labels") or ("self-hosted",)),
        node_selector=tuple(sorted(((raw.get("kubernetes") or {}).get("node_selector") or {}).items())),
        accelerator=Accelerator(
            vendor=acc["vendor"], model=acc["model"], count=int(acc["count"]),
            memory=acc.get("memory"), device_ids=tuple(acc.get("device_ids") or ()),
        ) if acc else None,
        container=ContainerLimits(
            network=container.get("network", "none"),
            memory=container.get("memory"),
            pids=container.get("pids"),
            shm=container.get("shm"),
            timeout_s=container.get("timeout_s"),
        ),
        description=tuple(sorted((raw.get("description") or {}).items())),
        benchmarks=tuple(_benchmark(b) for b in raw["benchmarks"]),
    )


def build_manifest(data: dict[str, Any], path: str) -> Manifest:
    return Manifest(
        path=path,
        version=int(data["version"]),
        round=data["round"],
        submitter=data["submitter"],
        division=data["division"],
        status=data["status"],
        system_type=data["system_type"],
        pipeline=data.get("pipeline", "submission"),
        systems=tuple(_system(s) for s in data["systems"]),
        calibration_md=data.get("calibration_md"),
    )
