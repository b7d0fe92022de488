"""`mlperf-ops upload TARBALL` and `mlperf-ops dev-portal` (a local portal for rehearsals).

The submitter id comes only from `MLPERF_SUBMITTER_ID` / `MLPERF_SUBMITTER_ID_FILE`;
nothing printed here contains it or a signed URL's query (everything goes through
`portal.redact`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from mlperf_ops.cli.common import echo_json, json_option, state_dir_option
from mlperf_ops.core.errors import EXIT_OK, UsageError
from mlperf_ops.core.events import Event
from mlperf_ops.ship.portal import (
    BENCHMARKS,
    MASK,
    PORTAL_URL_ENV,
    SUBMITTER_ID_ENV,
    SUBMITTER_ID_FILE_ENV,
    ClassicPortal,
    RetryPolicy,
    Timeouts,
    load_submitter_id,
    redact,
    redact_data,
    resolve_portal_url,
)
from mlperf_ops.state.receipts import ALREADY_UPLOADED, DRY_RUN, Receipt, ReceiptStore
from mlperf_ops.ship.upload import is_local_portal, tree_check, upload_tarball


def _print_event(event: Event) -> None:
    if event.kind == "dry-run":
        return  # the plan itself goes to stdout
    click.echo(f"upload: {redact(event.message)}", err=True)


def _render_plan(receipt: Receipt) -> None:
    click.echo(f"dry run: {receipt.tarball} ({receipt.size} bytes, sha256 {receipt.sha256})")
    click.echo(f"submitter {receipt.submitter_name}, portal {receipt.portal_url}; nothing is sent.")
    for number, request in enumerate(receipt.planned, start=1):
        click.echo(f"\n{number}. {request['method']} {request['url']}   ({request['step']})")
        for name, value in request["headers"].items():
            click.echo(f"   {name}: {value}")
        for key, label in (("json_body", "json"), ("form", "form"), ("body", "body")):
            if key in request:
                fields = ", ".join(f"{k}={v}" for k, v in request[key].items())
                click.echo(f"   {label}: {fields}")


@click.command("upload")
@click.argument("tarball", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--portal-url", help=f"Portal base URL (default ${PORTAL_URL_ENV} or the MLCommons portal).")
@click.option("--benchmark", type=click.Choice(BENCHMARKS), default="Inference", show_default=True,
              help="Portal benchmark suite.")
@click.option("--expect-submitter", metavar="NAME",
              help="Stop unless the tarball and the portal both name this submitter.")
@click.option("--round", "round_", metavar="ROUND", help="Round for the local check (e.g. v6.1).")
@click.option("--no-check", is_flag=True, help="Skip the local submission check (recorded in the receipt).")
@click.option("--force", is_flag=True,
              help="Upload even if older than the last upload, already uploaded, or failing the check "
                   "(never a smoke tarball to a real portal, never to another submitter).")
@click.option("--dry-run", is_flag=True, help="Show the three requests (secrets masked); send nothing.")
@click.option("--connect-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option("--read-timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True)
@click.option("--attempts", type=click.IntRange(min=1), default=5, show_default=True,
              help="Attempts per retryable step.")
@state_dir_option
@json_option
def upload_cmd(
    tarball: Path,
    portal_url: str | None,
    benchmark: str,
    expect_submitter: str | None,
    round_: str | None,
    no_check: bool,
    force: bool,
    dry_run: bool,
    connect_timeout: float,
    read_timeout: float,
    attempts: int,
    state_dir: Path,
    as_json: bool,
) -> int:
    """Upload a packed submission tarball to the MLCommons portal and keep a receipt."""
    base_url = resolve_portal_url(portal_url)
    try:
        submitter_id = load_submitter_id()
    except UsageError:
        if not dry_run:
            raise
        click.echo(f"upload: warning: {SUBMITTER_ID_ENV} is not set; a real upload would stop here",
                   err=True)
        submitter_id = MASK
    check = None
    if not no_check:
        check = tree_check(round_)
        if check is None:
            if not force:
                raise UsageError(
                    "the local submission checker (mlperf_ops.check) is not available",
                    hint="pass --no-check to upload without a local check (recorded in the receipt)",
                )
            click.echo("upload: warning: no local checker; --force uploads unchecked", err=True)
    portal = ClassicPortal(
        base_url,
        submitter_id,
        benchmark,
        timeouts=Timeouts(connect_timeout, read_timeout),
        retry=RetryPolicy(attempts=attempts),
        on_event=_print_event,
    )
    receipt = upload_tarball(
        tarball,
        portal=portal,
        receipts=ReceiptStore(state_dir),
        expected_submitter=expect_submitter,
        force=force,
        dry_run=dry_run,
        # A portal on loopback is `mlperf-ops dev-portal`: a rehearsal that may take a smoke tarball.
        trial=is_local_portal(base_url),
        check=check,
        on_event=_print_event,
        benchmark=benchmark,
    )
    data = redact_data(receipt.to_dict() | {"receipt_path": receipt.path})
    if as_json:
        echo_json(data)
    elif receipt.result == DRY_RUN:
        _render_plan(receipt)
    elif receipt.result == ALREADY_UPLOADED:
        click.echo(f"already uploaded: {receipt.tarball} (sha256 {receipt.sha256}) as submission "
                   f"{receipt.submission_id} at {receipt.finished_at}; nothing to do")
    else:
        click.echo(f"uploaded {receipt.tarball} (sha256 {receipt.sha256}, {receipt.size} bytes) as "
                   f"submission {receipt.submission_id} for {receipt.submitter_name}")
        click.echo(f"receipt: {receipt.path}")
        click.echo("the portal e-mails the result of its check")
    return EXIT_OK


@click.command("dev-portal")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--storage", type=click.Path(file_okay=False, path_type=Path),
              help="Where uploads land (default: a temporary directory, removed on exit).")
@click.option("--submitter-name", default="MLPerfOpsDemo", show_default=True,
              help=f"Name the portal maps the submitter id (${SUBMITTER_ID_ENV}) to.")
@click.option("--fail-url", type=click.IntRange(min=0), default=0, help="First N step-1 calls answer 503.")
@click.option("--fail-put", type=click.IntRange(min=0), default=0, help="First N PUTs answer 503.")
@click.option("--fail-check", type=click.IntRange(min=0), default=0, help="First N step-3 calls answer 503.")
@click.option("--drop-put-after", type=click.IntRange(min=0), metavar="BYTES",
              help="Drop the first PUT's connection after BYTES body bytes.")
@click.option("--expire-after", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              metavar="SECONDS", help="Lifetime of signed upload URLs.")
@click.option("--slow", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Delay every answer.")
def dev_portal_cmd(
    port: int,
    storage: Path | None,
    submitter_name: str,
    fail_url: int,
    fail_put: int,
    fail_check: int,
    drop_put_after: int | None,
    expire_after: float,
    slow: float,
) -> int:
    """Run a local portal on 127.0.0.1 that speaks the upload protocol, faults included."""
    # http.server, secrets and threads are the dev portal's, not `upload`'s: imported here.
    import secrets
    import threading

    from mlperf_ops.ship.devportal import DevPortal, FaultPlan

    id_file: Path | None = None
    if os.environ.get(SUBMITTER_ID_ENV) or os.environ.get(SUBMITTER_ID_FILE_ENV):
        submitter_id = load_submitter_id()
    else:
        submitter_id = secrets.token_hex(16)
    faults = FaultPlan(
        fail_url=fail_url,
        fail_put=fail_put,
        fail_check=fail_check,
        drop_put_after=drop_put_after,
        expire_after=expire_after,
        slow=slow,
    )
    log: Any = lambda line: click.echo(f"dev-portal: {redact(line)}", err=True)  # noqa: E731
    portal = DevPortal(port=port, storage_dir=storage, faults=faults,
                       submitters={submitter_id: submitter_name}, log=log)
    with portal:
        if not (os.environ.get(SUBMITTER_ID_ENV) or os.environ.get(SUBMITTER_ID_FILE_ENV)):
            id_file = portal.storage_dir / "submitter_id"
            fd = os.open(id_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(submitter_id + "\n")
        click.echo(f"dev portal listening on {portal.url} (submitter {submitter_name!r}); "
                   f"uploads in {portal.storage_dir}")
        click.echo(f"  export {PORTAL_URL_ENV}={portal.url}")
        if id_file is not None:
            click.echo(f"  export {SUBMITTER_ID_FILE_ENV}={id_file}")
        click.echo("  state: GET /_devportal/state; Ctrl-C stops")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("dev-portal: stopped", err=True)
    return EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(upload_cmd)
    group.add_command(dev_portal_cmd)
