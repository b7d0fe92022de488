"""`mlperf-ops digest PATH`: the sha256 a manifest's `model:`/`dataset:` declares for PATH."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import state_dir_option


def register(group: click.Group) -> None:
    @group.command("digest")
    @click.argument("path", type=click.Path(path_type=Path))
    @state_dir_option
    def digest_cmd(path: Path, state_dir: Path) -> None:
        """Print the digest of a model file or a data-set directory (cached in the state directory)."""
        from mlperf_ops.run.artifacts import digest
        from mlperf_ops.state.digests import DigestCache

        cache = DigestCache.in_state_dir(state_dir)
        try:
            value = digest(path, cache)
        finally:
            cache.save()
        click.echo(value)
