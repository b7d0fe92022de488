"""`mlperf-ops images build|list|prune|export-demo`: the harness images, one per hardware target.

`images build controller --for TARGET` builds the controller image (mlperf-ops itself on
top of TARGET's harness image) that `mlperf-ops render k8s` names in its Jobs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from mlperf_ops.stacks import images
from mlperf_ops.cli.common import echo_json, json_option


def _images_dir_option(func: Any) -> Any:
    return click.option(
        "--images-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("images"),
        show_default=True,
        help="Directory holding one build context per target.",
    )(func)


def _progress(verbose: bool) -> Any:
    # Build output is long; on a terminal show stage lines only unless asked, in CI show all
    # so a failed build is diagnosable from the job log.
    show_build_lines = verbose or os.environ.get("CI") == "true"

    def on_event(event: images.ImageEvent) -> None:
        if event.stage == "build" and not event.message.startswith("building ") and not show_build_lines:
            return
        click.echo(f"[{event.target}] {event.message}", err=True)

    return on_event


def register(group: click.Group) -> None:
    @group.group("images")
    def images_group() -> None:
        """Build, list and prune the content-addressed harness images."""

    @images_group.command("build")
    @click.argument("targets", nargs=-1)
    @_images_dir_option
    @click.option("--for", "for_targets", multiple=True, metavar="TARGET",
                  help="With `controller`: the harness target(s) to build it on (repeatable; default cpu).")
    @click.option("-v", "--verbose", is_flag=True, help="Show every build output line.")
    @json_option
    def build(targets: tuple[str, ...], images_dir: Path, for_targets: tuple[str, ...], verbose: bool,
              as_json: bool) -> None:
        """Build TARGET images (default: cpu), skipping those already up to date.

        `controller --for cpu` builds cpu-controller: the cpu image (built first if needed)
        plus mlperf-ops and the project files, the image `render k8s` Jobs run.
        """
        loaded = images.requested_targets(images_dir, targets, for_targets)
        from mlperf_ops.execute.engine import Engine  # docker: imported only when talking to it

        engine = Engine.connect()
        refs = [images.ensure_image(engine, target, on_event=_progress(verbose)) for target in loaded]
        if as_json:
            echo_json([_ref_json(ref) for ref in refs])
            return
        for ref in refs:
            click.echo(f"{ref.target}\t{ref.tag}\t{'built' if ref.built else 'up to date'}")

    @images_group.command("export-demo")
    @_images_dir_option
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/demo"),
                  show_default=True, help="Host directory to (re)create.")
    @click.option("-v", "--verbose", is_flag=True, help="Show every build output line.")
    def export_demo(images_dir: Path, out: Path, verbose: bool) -> None:
        """Copy the demo's model and data set out of the cpu image (built first if needed).

        manifests/demo.yaml names these files as its model: and dataset:, so the demo runs
        through the ResNet50 harness like a real closed run; `make submission` does this.
        """
        from mlperf_ops.stacks import demo_export
        from mlperf_ops.execute.engine import Engine  # docker: imported only when talking to it

        engine = Engine.connect()
        ref = images.ensure_image(engine, images.load_target(images_dir, "cpu"), on_event=_progress(verbose))
        copied = demo_export.export(engine, ref.tag, out)
        click.echo(f"{out}\t{'copied from' if copied else 'up to date with'} {ref.tag}")

    @images_group.command("list")
    @_images_dir_option
    @json_option
    def list_(images_dir: Path, as_json: bool) -> None:
        """Targets, their content tag and whether that image is built."""
        from mlperf_ops.execute.engine import Engine  # docker: imported only when talking to it

        engine = Engine.connect()
        rows: list[dict[str, Any]] = []
        loaded = [images.load_target(images_dir, name) for name in images.list_targets(images_dir)]
        if images.is_controller_context(images_dir / "controller"):
            loaded += [images.load_controller(images_dir, t.name) for t in list(loaded)]
        for target in loaded:
            tag = images.image_tag(target)
            info = engine.image_info(tag)
            rows.append({
                "target": target.name, "kind": target.kind, "tag": tag, "built": info is not None,
                "image_id": info.id if info else None,
                "size_bytes": info.size_bytes if info else None,
                "accelerator": target.accelerator,
                "execution_provider": target.execution_provider,
            })
        if as_json:
            echo_json(rows)
            return
        for row in rows:
            state = f"built {row['size_bytes'] / 1e6:.0f} MB" if row["built"] else "not built"
            click.echo(f"{row['target']}\t{row['tag']}\t{state}")

    @images_group.command("prune")
    @click.option("--containers-only", is_flag=True, help="Remove leftover containers, keep images.")
    @json_option
    def prune(containers_only: bool, as_json: bool) -> None:
        """Remove containers and images that mlperf-ops made (labelled org.mlperf-ops.managed)."""
        from mlperf_ops.execute.engine import Engine  # docker: imported only when talking to it

        engine = Engine.connect()
        removed = engine.prune("containers" if containers_only else "all")
        if as_json:
            echo_json({"removed": removed})
            return
        for item in removed:
            click.echo(item)
        click.echo(f"removed {len(removed)} object(s)", err=True)


def _ref_json(ref: images.ImageRef) -> dict[str, Any]:
    return {"target": ref.target, "tag": ref.tag, "image_id": ref.image_id,
            "spec_hash": ref.spec_hash, "built": ref.built, "reason": ref.reason}
