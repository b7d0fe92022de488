"""Upload a packed submission tarball: guards, the three portal steps, a receipt.

No HTTP here (that is `mlperf_ops.ship.portal`) and no printing (progress goes to `on_event`).
Guards, in order, each before anything is sent:
1. a smoke tarball (top-level `SMOKE_TREE.txt`, or the checker says so) is refused by a
   real portal, even with `force`: smoke runs are never submittable and, because the portal
   keeps only the latest upload per submitter, uploading one would silently replace the real
   submission. A dry run, or a portal on loopback (`mlperf-ops dev-portal`), may take one,
   to rehearse the flow with what `make submission` made;
2. the tarball must name exactly one submitter (`closed|open|network/<submitter>/`) and
   match `expected_submitter` when given;
3. its sha256 must match the sibling `.sha256` file when there is one. `pack` writes that
   file from the bytes it wrote, so it is taken as the tarball's sha256 and verified while
   the bytes are sent (one read of the file, not two): the sha256 is taken of the very
   bytes sent, and the last chunk is held back unless it matches, so a corrupt tarball
   never arrives complete and the upload stops as corrupt (exit 3). Without the file, or
   for a dry run (which sends nothing), the file is hashed before anything is sent;
4. the same sha256 as the last successful receipt is a no-op (unless `force`);
5. a tarball older than the last upload for this portal and submitter is refused
   (unless `force`): it would replace a newer submission;
6. the local check must pass (unless `force`).
After step 1 of the protocol the submitter name the portal maps the id to must equal the
tarball's submitter — never overridable: it would upload to another organisation.
"""

from __future__ import annotations

import ipaddress
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlperf_ops import __version__
from mlperf_ops.core.errors import CheckFailed, MlperfOpsError, OperationalError, UsageError
from mlperf_ops.core.events import Event, EventSink, UploadKind
from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.ship.tarballs import MAX_MEMBERS, sidecar_digest, unpacked
from mlperf_ops.ship.portal import (
    Portal,
    SignedUrlRejected,
    TarballChanged,
    UploadSlot,
    redact,
)
from mlperf_ops.state import receipts as R
from mlperf_ops.state.receipts import Receipt, ReceiptStore
from mlperf_ops.core.tree_layout import DIVISIONS, SMOKE_MARKER

MAX_URL_REFRESHES = 3
PROGRESS_EVERY = 16 * 1024 * 1024


def is_local_portal(base_url: str) -> bool:
    """True for a portal on this machine (loopback): the dev portal, never MLCommons'."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    smoke: bool = False
    summary: str = ""
    checker: str = ""  # name/version of the checker used, recorded in the receipt


@dataclass(frozen=True)
class TarballInfo:
    submitter: str
    smoke: bool
    divisions: tuple[str, ...]


# ---------------------------------------------------------------------------
# Reading the tarball.


def _parts(name: str) -> list[str]:
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]


def _member_names(path: Path) -> list[list[str]]:
    """The first three parts of the member names, each once. Random access (`r:*`): a plain
    tar's member data is skipped by seeking, a gzip one is decompressed once, in a fixed
    buffer. tarfile keeps every header it has read (about a kilobyte each), so an archive
    of more than MAX_MEMBERS entries is refused here, as unpacking it would be, before
    millions of them are held."""
    names: dict[tuple[str, ...], None] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise UsageError(f"{path.name} holds more than {MAX_MEMBERS:,} entries: not uploaded",
                                     hint="upload the .tar.gz written by `mlperf-ops pack`")
                parts = _parts(member.name)
                if parts:  # deeper paths add nothing we need
                    names[tuple(parts[:3])] = None
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UsageError(
            f"{path.name} is not a readable tar archive: {error}",
            hint="upload the .tar.gz written by `mlperf-ops pack`",
        ) from None
    return [list(parts) for parts in names]


def inspect_tarball(path: Path) -> TarballInfo:
    """Submitter and smoke marker from the member names."""
    return _tarball_info(path, _member_names(path))


def inspect_and_hash(path: Path) -> tuple[TarballInfo, str]:
    """`inspect_tarball` and the file's sha256. Two reads, each at the machine's speed:
    where one pass through tarfile's stream reader, which copies every block, took 0.3-0.75 s."""
    return inspect_tarball(path), file_sha256(path)


def _tarball_info(path: Path, names: list[list[str]]) -> TarballInfo:
    tops = {p[0] for p in names}
    # The official layout has the divisions at the top; tolerate one wrapping directory.
    prefix: list[str] = []
    if not tops & set(DIVISIONS) and len(tops) == 1:
        prefix = [next(iter(tops))]
    depth = len(prefix)
    smoke = any(p[depth:] == [SMOKE_MARKER] for p in names if p[:depth] == prefix)
    submitters: set[str] = set()
    divisions: set[str] = set()
    for p in names:
        rest = p[depth:] if p[:depth] == prefix else []
        if len(rest) >= 2 and rest[0] in DIVISIONS:
            divisions.add(rest[0])
            submitters.add(rest[1])
    if not submitters:
        raise UsageError(
            f"{path.name} has no closed/, open/ or network/<submitter>/ directory",
            hint="upload the tarball written by `mlperf-ops pack`",
        )
    if len(submitters) > 1:
        raise UsageError(
            f"{path.name} holds several submitters ({', '.join(sorted(submitters))})",
            hint="the portal takes one tarball per submitter id",
        )
    return TarballInfo(next(iter(submitters)), smoke, tuple(sorted(divisions)))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def created_time(tarball: Path, sha256: str) -> tuple[str, str]:
    """When the tarball was made: `report.json` next to it if it describes this tarball,
    else the file's mtime (a copy can change mtime; a report's time cannot)."""
    import json

    report = tarball.parent / "report.json"
    if report.is_file():
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            scopes = [data] + [data[k] for k in ("tarball", "pack") if isinstance(data.get(k), dict)]
            digests = {s.get("sha256") for s in scopes if isinstance(s.get("sha256"), str)}
            if not digests or sha256 in digests:
                for scope in scopes:
                    for key in ("created_at", "created", "packed_at", "generated_at"):
                        moment = _parse_time(scope.get(key))
                        if moment is not None:
                            return moment.isoformat(timespec="microseconds"), f"report.json:{key}"
    mtime = datetime.fromtimestamp(tarball.stat().st_mtime, tz=timezone.utc)
    return mtime.isoformat(timespec="microseconds"), "mtime"


# ---------------------------------------------------------------------------
# The local check, run on an unpacked copy.


def tree_check(round_: str | None = None) -> Callable[[Path], CheckOutcome] | None:
    """A `check` callable backed by `mlperf_ops.check.check_tree` on an unpacked copy, or
    None if the checker is not installed (the caller decides whether that is acceptable)."""
    try:
        from mlperf_ops.check import check_tree
    except ImportError:
        return None

    def run(tarball: Path) -> CheckOutcome:
        with unpacked(tarball) as root:
            report = check_tree(root, round=round_, as_submission=True)
            errors = [f for f in report.findings if f.severity == "error"]
            summary = "; ".join(f"{f.rule_id} {f.path or '.'}: {f.message}" for f in errors[:5])
            if len(errors) > 5:
                summary += f"; ... ({len(errors)} errors)"
            if not report.results and not errors:
                summary = "no results found in the tree"
            return CheckOutcome(
                ok=report.ok,
                smoke=report.smoke,
                summary=summary,
                checker=f"mlperf_ops.check {__version__} (round {report.round})",
            )

    return run


# ---------------------------------------------------------------------------
# Orchestration.


def _noop(_: Event) -> None:
    return None


def upload_tarball(
    tarball: Path,
    *,
    portal: Portal,
    receipts: ReceiptStore,
    expected_submitter: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    trial: bool = False,
    check: Callable[[Path], CheckOutcome] | None = None,
    on_event: EventSink | None = None,
    benchmark: str = "Inference",
    max_url_refreshes: int = MAX_URL_REFRESHES,
    refresh_delay: float = 1.0,
    sleep: Callable[[float], None] | None = None,
) -> Receipt:
    emit_sink = on_event or _noop

    def emit(kind: UploadKind, message: str, **data: Any) -> None:
        emit_sink(Event(kind, redact(message), data=data))

    tarball = Path(tarball)
    if not tarball.is_file():
        raise UsageError(f"no such tarball: {tarball}", hint="run `mlperf-ops pack` first")

    # 1-2: what the tarball is (member names only: a plain tar is read by seeking).
    size = tarball.stat().st_size
    info = inspect_tarball(tarball)
    # 3: the sha256. pack's `.sha256` is trusted for now and proven while sending (the
    # PUT hashes what it sends and holds the last chunk back on a mismatch): hashing
    # first as well would read 210 MB twice for the same answer. A dry run sends nothing,
    # so it hashes; so does a tarball without the file.
    announced = sidecar_digest(tarball)
    verify_while_sending = announced is not None and not dry_run
    if announced is not None and verify_while_sending:
        sha256 = announced
        emit("hash", f"{tarball.name} ({size} bytes): sha256 {sha256[:12]}… from "
                     f"{tarball.name}.sha256, verified while sending", size=size)
    else:
        emit("hash", f"reading and hashing {tarball.name} ({size} bytes)", size=size)
        sha256 = file_sha256(tarball)

    def refuse_smoke(why: str) -> None:
        # A dry run only shows the requests, and a portal on this machine (`mlperf-ops
        # dev-portal`) is a rehearsal: both may take a smoke tarball. A real portal never:
        # it keeps one upload per submitter, so a smoke one would replace the real one.
        if dry_run or trial:
            emit("guard", f"{tarball.name} is a smoke tree ({why}): "
                          f"{'a dry run' if dry_run else 'a trial upload to a local portal'}; "
                          "a real portal would refuse it")
            return
        raise CheckFailed(
            f"{tarball.name} is a smoke tree ({why}); smoke runs are never uploaded to a real portal, "
            "not even with --force",
            hint="run the `submission` profile and pack that tree; to rehearse the upload, start "
                 "`mlperf-ops dev-portal` and pass the --portal-url it prints (or use --dry-run)",
        )

    if info.smoke:
        refuse_smoke(SMOKE_MARKER)
    if expected_submitter is not None and expected_submitter != info.submitter:
        raise UsageError(
            f"{tarball.name} is for submitter {info.submitter!r}, expected {expected_submitter!r}",
            hint="upload the tarball of your own organisation",
        )

    # 3: integrity (when the file was hashed above; else while sending, in _send).
    if announced is not None and announced != sha256:
        raise CheckFailed(
            f"{tarball.name} does not match {tarball.name}.sha256 "
            f"(file {sha256[:12]}…, recorded {announced[:12]}…)",
            hint="the tarball was changed or truncated; re-run `mlperf-ops pack`",
        )
    created_at, created_source = created_time(tarball, sha256)

    # 4-5: against the last upload the portal holds.
    last = receipts.latest_on_portal(portal.base_url, info.submitter)
    if last is not None and last.sha256 == sha256 and not force:
        emit(
            "noop",
            f"{tarball.name} (sha256 {sha256[:12]}…) was already uploaded as submission "
            f"{last.submission_id} at {last.finished_at}; nothing to do",
            receipt=last.path,
        )
        return replace(last, result=R.ALREADY_UPLOADED)
    if last is not None and created_at < last.created_at and last.sha256 != sha256:
        message = (
            f"{tarball.name} (made {created_at}) is older than the last upload "
            f"{last.tarball} (made {last.created_at}); the portal keeps only the latest "
            "upload, so this would replace a newer submission"
        )
        if not force:
            raise UsageError(message, hint="upload the newer tarball, or pass --force on purpose")
        emit("guard", f"--force: {message}")

    # 6: the local check.
    check_info: dict[str, Any] = {"ran": False}
    if check is not None:
        emit("check", f"checking {tarball.name}")
        outcome = check(tarball)
        check_info = {"ran": True, "ok": outcome.ok, "checker": outcome.checker}
        if outcome.smoke and not info.smoke:
            refuse_smoke("the checker says so")
        if not outcome.ok:
            message = f"{tarball.name} does not pass the submission check: {outcome.summary}"
            if not force:
                raise CheckFailed(message, hint="fix the findings (`mlperf-ops check`), then pack again")
            emit("guard", f"--force: {message}")
            check_info["forced"] = True

    base = Receipt(
        tarball=tarball.name,
        sha256=sha256,
        size=size,
        submitter_name=info.submitter,
        portal_url=portal.base_url,
        tool_version=__version__,
        result=R.DRY_RUN,
        created_at=created_at,
        created_source=created_source,
        benchmark=benchmark,
        check=check_info,
    )
    if dry_run:
        planned = [p.to_dict() for p in portal.describe(tarball.name, sha256, size)]
        emit("dry-run", "dry run: nothing sent", requests=planned)
        return replace(base, planned=planned)

    return _send(
        tarball,
        base,
        info=info,
        expected_submitter=expected_submitter,
        portal=portal,
        receipts=receipts,
        emit=emit,
        max_url_refreshes=max_url_refreshes,
        refresh_delay=refresh_delay,
        sleep=sleep,
        sidecar_unverified=verify_while_sending,
    )


def _send(
    tarball: Path,
    base: Receipt,
    *,
    info: TarballInfo,
    expected_submitter: str | None,
    portal: Portal,
    receipts: ReceiptStore,
    emit: Callable[..., None],
    max_url_refreshes: int,
    refresh_delay: float,
    sleep: Callable[[float], None] | None,
    sidecar_unverified: bool = False,
) -> Receipt:
    import time

    pause = sleep or time.sleep
    steps: dict[str, dict[str, str]] = {}
    started_at = R.utc_now()
    slot: UploadSlot | None = None
    refreshes = 0
    result = R.FAILED

    def begin(step: str) -> None:
        steps[step] = {"started": R.utc_now()}

    def end(step: str) -> None:
        steps[step]["finished"] = R.utc_now()

    def new_slot() -> UploadSlot:
        begin("request_upload_url")
        got = portal.request_upload_url(tarball.name)
        end("request_upload_url")
        for wanted, what in ((info.submitter, "the tarball's"), (expected_submitter, "the expected")):
            if wanted is not None and got.submitter_name != wanted:
                raise _Refused(
                    f"the portal maps this submitter id to {got.submitter_name!r}, but "
                    f"{what} submitter is {wanted!r}; nothing was uploaded",
                    hint="check MLPERF_SUBMITTER_ID (is it your organisation's id?) and the tarball",
                    slot=got,
                )
        emit(
            "slot",
            f"submission {got.submission_id} for {got.submitter_name}",
            submission_id=got.submission_id,
        )
        return got

    last_progress = [0]

    def progress(sent: int) -> None:
        if sent - last_progress[0] >= PROGRESS_EVERY or sent == base.size:
            last_progress[0] = sent
            emit("progress", f"sent {sent} of {base.size} bytes", sent=sent, size=base.size)

    try:
        slot = new_slot()
        begin("put")
        while True:
            try:
                portal.put(slot, tarball, base.sha256, base.size, progress=progress)
                break
            except TarballChanged as error:
                if not sidecar_unverified:
                    raise
                # The bytes never matched pack's sha256: corrupt, not changed mid-send.
                raise CheckFailed(
                    f"{tarball.name} does not match {tarball.name}.sha256 (the sha256 of the "
                    f"bytes read while sending differs from the recorded {base.sha256[:12]}…); "
                    "the upload was abandoned before its last bytes, so the portal holds no "
                    "copy of it",
                    hint="the tarball is corrupt or was changed after packing; re-run `mlperf-ops pack`",
                ) from error
            except SignedUrlRejected as error:
                if refreshes >= max_url_refreshes:
                    raise
                refreshes += 1
                emit("refresh-url", f"{error.message}; asking for a new upload URL ({refreshes})")
                pause(refresh_delay * refreshes)
                slot = new_slot()
        end("put")
        result = R.UPLOADED_CHECK_NOT_STARTED
        begin("start_check")
        portal.start_check(slot.submission_id)
        end("start_check")
        result = R.OK
    except _Refused as refused:
        receipt = receipts.write(
            _finish(base, R.REFUSED, steps, started_at, refused.slot, refreshes, refused.message)
        )
        raise UsageError(refused.message, hint=refused.hint) from None
    except MlperfOpsError as error:
        receipt = receipts.write(_finish(base, result, steps, started_at, slot, refreshes, error.message))
        error.hint = (error.hint + "; " if error.hint else "") + f"receipt: {receipt.path}"
        raise
    except (OSError, KeyboardInterrupt) as error:
        text = f"{type(error).__name__}: {error}"
        receipts.write(_finish(base, result, steps, started_at, slot, refreshes, text))
        if isinstance(error, KeyboardInterrupt):
            raise
        raise OperationalError(f"upload failed: {redact(text)}") from None
    receipt = receipts.write(_finish(base, R.OK, steps, started_at, slot, refreshes, None))
    emit("done", f"uploaded {tarball.name} as submission {slot.submission_id}", receipt=receipt.path)
    return receipt


class _Refused(Exception):
    def __init__(self, message: str, *, hint: str, slot: UploadSlot) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.slot = slot


def _finish(
    base: Receipt,
    result: str,
    steps: dict[str, dict[str, str]],
    started_at: str,
    slot: UploadSlot | None,
    refreshes: int,
    error: str | None,
) -> Receipt:
    return replace(
        base,
        result=result,
        steps={k: dict(v) for k, v in steps.items()},
        started_at=started_at,
        finished_at=R.utc_now(),
        submission_id=slot.submission_id if slot else None,
        submitter_name=base.submitter_name,
        url_refreshes=refreshes,
        error=redact(error) if error else None,
        planned=[],
    )

