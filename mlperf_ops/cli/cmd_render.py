"""`mlperf-ops render k8s`: the manifest as Kubernetes Jobs, one per system.

Rendering only prints YAML (pipe it to `kubectl apply -f -`); it never talks to a
cluster, so it works on any machine and in CI.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.core.errors import UsageError
from mlperf_ops.render.k8s_documents import dump_documents, render_k8s_documents


def _parse_image_overrides(values: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for value in values:
        system_id, sep, ref = value.partition("=")
        if not sep or not system_id or not ref:
            raise UsageError(f"--image {value!r} is not SYSTEM=IMAGE", hint="e.g. --image demo-cpu=registry/x/cpu:1a2b3c")
        overrides[system_id] = ref
    return overrides


def register(group: click.Group) -> None:
    @group.group("render")
    def render() -> None:
        """Render the manifest for another orchestrator (prints; changes nothing)."""

    @render.command("k8s")
    @click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--namespace", default="default", show_default=True, help="Namespace of the Jobs.")
    @click.option(
        "--image-registry",
        metavar="PREFIX",
        default=None,
        help="Registry prefix for the images, e.g. registry.example.com/mlperf.",
    )
    @click.option(
        "--state-pvc",
        default="mlperf-ops-state",
        show_default=True,
        help="PersistentVolumeClaim holding the ledger (ReadWriteMany when systems run on several nodes).",
    )
    @click.option("--image", "images", multiple=True, metavar="SYSTEM=IMAGE", help="Image for one system (repeatable).")
    @click.option("--system", "systems", multiple=True, metavar="ID", help="Only this system (repeatable).")
    def render_k8s(
        manifest: Path,
        namespace: str,
        image_registry: str | None,
        state_pvc: str,
        images: tuple[str, ...],
        systems: tuple[str, ...],
    ) -> None:
        """One Kubernetes batch/v1 Job per system of MANIFEST, as multi-document YAML.

        Apply with `mlperf-ops render k8s MANIFEST | kubectl apply -f -`. The first
        document is a ConfigMap carrying the manifest; each Job runs
        `mlperf-ops apply MANIFEST --system ID` with the ledger on the --state-pvc claim,
        in the controller image of the system's target (build it with
        `mlperf-ops images build controller --for TARGET`, push it under --image-registry).
        """
        docs = render_k8s_documents(
            manifest,
            namespace=namespace,
            state_pvc=state_pvc,
            image_registry=image_registry,
            image_overrides=_parse_image_overrides(images),
            only_systems=systems,
        )
        click.echo(dump_documents(docs), nl=False)
