"""The manifest as another orchestrator's documents: Kubernetes Jobs, one per system.

`k8s` renders the objects; this module decides what goes in them from the manifest,
the project's images and the planner (how many runs, which controller image), and
only returns documents: it never talks to a cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mlperf_ops.stacks import demo_export, images
from mlperf_ops.render import k8s
from mlperf_ops.core.errors import ManifestInvalid, Problem, UsageError
from mlperf_ops.manifest import Manifest, load_manifest
from mlperf_ops.manifest.source import read_source
from mlperf_ops.manifest.model import SystemSpec
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import plan
from mlperf_ops.state.snapshot import LedgerSnapshot
from mlperf_ops.core.project import find_project_root
from mlperf_ops.rules import load_rules

ImageResolver = Callable[[Path, SystemSpec], str]


def default_image_ref(project_root: Path, system: SystemSpec) -> str:
    """The content tag of the controller image for the system's harness target.

    What `mlperf-ops images build controller --for TARGET` builds: the harness image the
    system runs on (the one `apply` uses elsewhere) plus `mlperf-ops` and the project files,
    so the pod can run `mlperf-ops apply` itself. Run keys still come from the harness
    target, so records made in the pod and on a runner agree.
    """
    return images.image_tag(images.load_controller(project_root / "images", system.image))


def sidecar_problems(manifest_path: Path, manifest: Manifest, only_systems: tuple[str, ...] = ()) -> list[Problem]:
    """Each LLM server sidecar of the rendered systems, refused where the manifest declares it.

    A Job's pod runs `apply` with the local executor: there is no Docker engine in it to
    start the server, and its apply would stop at the benchmark's first run with an error of
    its own, after the cluster scheduled the pod (and its GPUs). Rendering the server as a
    second container of the pod would not be the run the manifest declares either: the
    sidecar's private network, its hardening and the identity its image gives every record
    are `apply`'s (README, "The server as a sidecar"). So the manifest is refused here,
    before anything reaches the cluster.
    """
    found = [(si, bi) for si, system in enumerate(manifest.systems) if not only_systems or system.id in only_systems
             for bi, bench in enumerate(system.benchmarks) if bench.server is not None and bench.server.sidecar]
    if not found:
        return []
    doc, problems = read_source(manifest_path, str(manifest_path))
    if doc is None:  # it parsed a moment ago (load_manifest); the positions are all that is missing
        return problems
    return [doc.problem(("systems", si, "benchmarks", bi, "server", "sidecar"),
                        f"render k8s cannot run the LLM server sidecar of system {manifest.systems[si].id!r}: "
                        "the Job's pod runs apply without a Docker engine to start it",
                        "on Kubernetes, serve the model yourself (a Deployment and a Service) and declare its "
                        "'url:' instead of 'sidecar:' (with 'container.network: bridge'); or leave this system "
                        "out with --system", key=True)
            for si, bi in found]


def runs_per_system(manifest: Manifest, project_root: Path) -> Counter[str]:
    """How many runs each system needs when nothing is done yet (an upper bound).

    Planned against an empty ledger: a Job's deadline must cover a first run of
    everything, since the cluster's ledger is not visible where we render.
    """
    rules = load_rules(manifest.round)
    profile = load_profile(project_root, manifest.pipeline)
    full = plan(manifest, rules, profile, {}, LedgerSnapshot())
    return Counter(run.spec.system for run in full.runs)


def job_deadline_s(per_run_timeout_s: int, run_count: int) -> int:
    # Runs of one system happen one after another inside the pod, so the Job may take
    # as long as all of them back to back.
    return per_run_timeout_s * max(1, run_count)


def to_k8s_systems(
    manifest: Manifest,
    *,
    image_for: Callable[[SystemSpec], str],
    default_run_timeout_s: int,
    run_counts: Mapping[str, int],
) -> list[k8s.K8sSystem]:
    systems = []
    for spec in manifest.systems:
        accelerator = spec.accelerator
        per_run = spec.container.timeout_s or default_run_timeout_s
        systems.append(
            k8s.K8sSystem(
                id=spec.id,
                image=image_for(spec),
                node_selector=dict(spec.node_selector),
                gpu_vendor=accelerator.vendor if accelerator else None,
                gpu_count=accelerator.count if accelerator else 0,
                timeout_s=job_deadline_s(per_run, run_counts.get(spec.id, 0)),
                memory=spec.container.memory,
                shm=spec.container.shm,
                artifacts=k8s_artifacts(spec),
            )
        )
    return systems


def k8s_artifacts(spec: SystemSpec) -> tuple[k8s.K8sArtifact, ...]:
    """Every model and data set of the system's benchmarks, once per path."""
    found: dict[str, k8s.K8sArtifact] = {}
    for bench in spec.benchmarks:
        for kind, artifact in (("model", bench.model), ("dataset", bench.dataset)):
            if artifact is None:
                continue
            if demo_export.carried_by_controller(artifact.path) and artifact.k8s_host_path is None \
                    and artifact.k8s_claim is None:
                # The demo's files: the controller image (FROM cpu) made them at this path of its
                # project directory, the pod's working directory, so no volume brings them.
                continue
            if not artifact.path.startswith("/"):
                raise UsageError(f"system {spec.id!r}, {bench.name}: {kind} path {artifact.path!r} is relative",
                                 hint="a Job mounts the artifact at its path in the pod: write an absolute path")
            mounted = k8s.K8sArtifact(mount_path=artifact.path, host_path=artifact.k8s_host_path,
                                      claim=artifact.k8s_claim, sub_path=artifact.k8s_sub_path)
            if found.setdefault(artifact.path, mounted) != mounted:
                raise UsageError(f"system {spec.id!r}: {artifact.path} is brought in two different ways",
                                 hint="give every benchmark using it the same `kubernetes:` block")
    return tuple(found.values())


class _Dumper(yaml.SafeDumper):
    """Plain YAML for people and kubectl: no `&id001` anchors, multi-line text as `|` blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_documents(documents: list[dict[str, Any]]) -> str:
    return yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, explicit_start=True
    )


def render_k8s_documents(
    manifest_path: Path,
    *,
    namespace: str,
    state_pvc: str,
    image_registry: str | None,
    image_overrides: Mapping[str, str],
    only_systems: tuple[str, ...] = (),
    resolve_image: ImageResolver = default_image_ref,
) -> list[dict[str, Any]]:
    """A ConfigMap with the manifest, then one Job per (selected) system."""
    manifest = load_manifest(manifest_path)
    known = [s.id for s in manifest.systems]
    for system_id in [*image_overrides, *only_systems]:
        if system_id not in known:
            raise UsageError(f"no system {system_id!r} in {manifest_path}", hint=f"systems: {', '.join(known)}")
    refused = sidecar_problems(manifest_path, manifest, only_systems)
    if refused:
        raise ManifestInvalid(refused)
    root = find_project_root(manifest_path)
    default_timeout = load_profile(root, manifest.pipeline).run_timeout_s

    def image_for(spec: SystemSpec) -> str:
        ref = image_overrides.get(spec.id) or resolve_image(root, spec)
        return k8s.with_registry(ref, image_registry)

    systems = to_k8s_systems(
        manifest,
        image_for=image_for,
        default_run_timeout_s=default_timeout,
        run_counts=runs_per_system(manifest, root),
    )
    if only_systems:
        systems = [s for s in systems if s.id in only_systems]
    name = manifest_path.as_posix()
    configmap = k8s.configmap_name(name)
    docs = [
        k8s.render_manifest_configmap(
            name=configmap, namespace=namespace, manifest_path=name, text=manifest_path.read_text("utf-8")
        )
    ]
    docs.extend(
        k8s.render_jobs(
            systems, manifest_path=name, namespace=namespace, state_pvc=state_pvc, manifest_configmap=configmap
        )
    )
    return docs
