"""The ledger: one record per run key, with its artifacts, in the state directory.

The directory's layout is named in `state.layout`. A run is staged, then its directory
is renamed into `records/` or `attempts/` in one step, so a crash or `kill -9` leaves at
most a stale staging directory — never a half-written record. Stale staging
directories are swept on the next `apply`; nothing finished is ever rewritten (a
retired record gets its new status and moves to `attempts/`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.core.errors import OperationalError, UsageError
from mlperf_ops.state.snapshot import LedgerSnapshot, RecordSummary
from mlperf_ops.core.atomic import publish_dir, write_json
from mlperf_ops.state.record import ArtifactFile, RecordError, RunRecord, parse_record, record_json

from mlperf_ops.state import layout
from mlperf_ops.state.layout import RECORD_FILE


@dataclass(frozen=True)
class Attempt:
    """A staged run: the container reads `config_dir` and writes `output_dir`."""

    key: str
    run_id: str
    dir: Path

    @property
    def config_dir(self) -> Path:
        return self.dir / layout.CONFIG

    @property
    def output_dir(self) -> Path:
        return self.dir / layout.OUTPUT

    @property
    def log_path(self) -> Path:
        return self.dir / layout.CONTAINER_LOG

    @property
    def accuracy_script_log(self) -> Path:
        return self.dir / layout.ACCURACY_SCRIPT_LOG

    @property
    def verification_dir(self) -> Path:
        return self.dir / layout.VERIFICATION

    @property
    def scratch_dir(self) -> Path:
        return self.dir / layout.SCRATCH


@dataclass(frozen=True)
class Record:
    """A run record as stored: its typed content and the directory it lives in."""

    run: RunRecord
    path: Path  # the record's directory

    @property
    def key(self) -> str:
        return self.run.key

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def output_dir(self) -> Path:
        return self.path / layout.OUTPUT

    @property
    def verification_dir(self) -> Path:
        return self.path / layout.VERIFICATION

    @property
    def log_path(self) -> Path:
        return self.path / layout.CONTAINER_LOG

    def summary(self) -> RecordSummary:
        return RecordSummary(
            run_id=self.run.run_id, key=self.run.key, status=self.run.status,
            inputs=self.run.inputs, calibrated=self.run.calibrated, reason=self.run.reason,
        )


@dataclass(frozen=True)
class Unreadable:
    """A record directory whose record.json could not be read: reported, never skipped silently."""

    path: Path
    error: str


def record_file(directory: Path) -> Path:
    """The record file of a record directory (in a ledger, or unpacked from a bundle)."""
    return directory / RECORD_FILE


def artifact_manifest(root: Path) -> dict[str, ArtifactFile]:
    """sha256 and size of every file under `root` except the record itself."""
    out: dict[str, ArtifactFile] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != RECORD_FILE:
            out[path.relative_to(root).as_posix()] = ArtifactFile(file_sha256(path), path.stat().st_size)
    return out


class Ledger:
    def __init__(self, state_dir: Path) -> None:
        # Absolute: record directories are bind-mounted into containers.
        self.root = state_dir.absolute()
        self.records_dir = self.root / layout.RECORDS
        self.attempts_dir = self.root / layout.ATTEMPTS
        self.staging_dir = self.root / layout.STAGING
        self.originals_dir = self.root / layout.ORIGINALS
        self.sidecar_logs_dir = self.root / layout.SIDECARS  # written by run/sidecar.py's engine calls
        # Filled while reading: record directories whose record.json does not parse.
        self.unreadable: dict[Path, Unreadable] = {}
        # Each record parsed once per command (`apply` reads the whole ledger before its
        # first plan and again after every run), kept with what can change it: the
        # record.json's inode, size and modification time. Records are replaced by
        # renaming a new directory into place, never edited, so a new record is a new inode.
        self._parsed: dict[Path, tuple[tuple[int, int, int], Record]] = {}

    # -- reading -------------------------------------------------------------

    def _read(self, directory: Path) -> Record | None:
        """The record in `directory`; None when there is none, or (noted in `unreadable`)
        when it does not parse. Unreadable records never satisfy a plan."""
        try:
            with open(directory / RECORD_FILE, "rb") as handle:
                info = os.fstat(handle.fileno())
                seen = (info.st_ino, info.st_size, info.st_mtime_ns)
                cached = self._parsed.get(directory)
                if cached is not None and cached[0] == seen:
                    return cached[1]
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            self.unreadable[directory] = Unreadable(directory, f"cannot read {RECORD_FILE}: {error.strerror}")
            return None
        try:
            run = parse_record(json.loads(data.decode("utf-8")))
        except (ValueError, RecordError) as error:
            self.unreadable[directory] = Unreadable(directory, str(error))
            return None
        self.unreadable.pop(directory, None)
        record = Record(run=run, path=directory)
        self._parsed[directory] = (seen, record)
        return record

    def records(self) -> Iterator[Record]:
        for parent in (self.records_dir, self.attempts_dir):
            if parent.is_dir():
                for directory in sorted(parent.iterdir()):
                    record = self._read(directory)
                    if record is not None:
                        yield record

    def problems(self) -> list[Unreadable]:
        """Every record directory whose record.json does not parse (reads the whole ledger)."""
        for _ in self.records():
            pass
        return sorted(self.unreadable.values(), key=lambda u: u.path)

    def done(self, key: str) -> Record | None:
        record = self._read(self.records_dir / key)
        return record if record is not None and record.status == "done" else None

    def snapshot(self) -> LedgerSnapshot:
        latest: dict[str, tuple[float, RecordSummary]] = {}
        done: dict[str, RecordSummary] = {}
        for record in self.records():
            summary = record.summary()
            if record.status == "done" and record.path.parent == self.records_dir:
                done[record.key] = summary
            finished = record.run.finished_unix
            if record.run_id not in latest or finished >= latest[record.run_id][0]:
                latest[record.run_id] = (finished, summary)
        return LedgerSnapshot(latest={k: v for k, (_, v) in latest.items()}, done=done)

    # -- writing -------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One `apply` per state directory at a time; released by the kernel on kill -9."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / layout.LOCK, "a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EACCES):
                    raise UsageError(f"another mlperf-ops apply holds {self.root / layout.LOCK}",
                                     hint="wait for it to finish, or use another --state-dir") from None
                raise
            yield
        finally:
            handle.close()

    def sweep_staging(self) -> list[Path]:
        """Remove what interrupted runs left behind (only ever called under the lock)."""
        removed: list[Path] = []
        if self.staging_dir.is_dir():
            for directory in self.staging_dir.iterdir():
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
        return removed

    def begin(self, key: str, run_id: str) -> Attempt:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{key[:12]}-{os.getpid()}-{time.monotonic_ns()}"
        attempt = Attempt(key=key, run_id=run_id, dir=self.staging_dir / stamp)
        attempt.config_dir.mkdir(parents=True)
        attempt.output_dir.mkdir(parents=True)
        # The container runs as the caller but may run under a different uid on
        # rootless setups; the output dir must be writable by it.
        os.chmod(attempt.output_dir, 0o777)
        return attempt

    def commit(self, attempt: Attempt, run: RunRecord) -> Record:
        """Seal an attempt: write record.json, then move the whole directory into place."""
        status = run.status
        if status not in ("done", "failed", "invalid"):
            raise ValueError(f"bad status {status!r}")
        os.chmod(attempt.output_dir, 0o755)
        data = record_json(replace(run, key=attempt.key, run_id=attempt.run_id,
                                   artifacts=artifact_manifest(attempt.dir)))
        write_json(attempt.dir / RECORD_FILE, data)
        if status == "done":
            final = self.records_dir / attempt.key
            if final.exists():
                # Same key finished twice (e.g. merged from elsewhere): keep the first.
                shutil.rmtree(attempt.dir, ignore_errors=True)
                existing = self._read(final)
                if existing is None:
                    raise OperationalError(f"record {final} is unreadable", hint="remove it and re-run apply")
                return existing
        else:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            final = self.attempts_dir / f"{stamp}-{attempt.key[:12]}-{attempt.dir.name.rsplit('-', 1)[-1]}"
        if str(attempt.dir) in json.dumps(data):
            # Reasons name files by path; after the move they live under `final`.
            data = json.loads(json.dumps(data).replace(str(attempt.dir), str(final)))
            write_json(attempt.dir / RECORD_FILE, data)
        publish_dir(attempt.dir, final)
        record = self._read(final)
        assert record is not None
        return record

    def retire(self, key: str, why: str) -> Record | None:
        """Move a finished record out of `records/` so its run happens again.

        Used when a compliance test keeps disagreeing with its reference run: the
        official procedure then re-runs the reference as well. The old record is
        kept under `attempts/` with status "retired" and the reason.
        """
        record = self.done(key)
        if record is None:
            return None
        write_json(record.path / RECORD_FILE,
                   record_json(replace(record.run, status="retired", reason=why, finished_unix=time.time())))
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        final = self.attempts_dir / f"{stamp}-{key[:12]}-retired-{time.monotonic_ns()}"
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(record.path, final)
        return self._read(final)

    def discard(self, attempt: Attempt) -> None:
        shutil.rmtree(attempt.dir, ignore_errors=True)

    def write_probe(self, system_id: str, probe: dict[str, str]) -> None:
        """Host facts of the machine a system's runs happen on (for systems/<id>.json)."""
        write_json(self.root / layout.PROBES / f"{system_id}.json", probe)

    def probe(self, system_id: str) -> dict[str, str] | None:
        try:
            data = json.loads((self.root / layout.PROBES / f"{system_id}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def import_record(self, source: Path) -> tuple[str, Record]:
        """Copy a verified finished record (from a bundle) into `records/`.

        Returns ("imported" | "identical", record). A different record under the
        same key is a conflict: the ledger keeps what it has and says so.
        """
        incoming = self._read(source)
        if incoming is None or incoming.status != "done":
            raise UsageError(f"{source} is not a finished record")
        final = self.records_dir / incoming.key
        existing = self._read(final)
        if existing is not None:
            if existing.run.artifacts == incoming.run.artifacts:
                return "identical", existing
            raise UsageError(
                f"conflict: record {incoming.key[:16]} ({incoming.run_id}) exists with different results",
                hint="the same inputs produced different outputs on two machines; remove one record "
                     f"({final}) deliberately if you mean to replace it",
            )
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        staging = self.staging_dir / f"import-{incoming.key[:12]}-{os.getpid()}-{time.monotonic_ns()}"
        shutil.copytree(source, staging, symlinks=False)
        publish_dir(staging, final)
        record = self._read(final)
        assert record is not None
        return "imported", record

    def originals_for(self, name: str) -> Path:
        """A directory for untruncated originals of the tree called `name`."""
        path = self.originals_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def forget_originals(self, name: str) -> None:
        """Drop the originals kept for a throw-away tree (e.g. one assembled for a report)."""
        shutil.rmtree(self.originals_dir / name, ignore_errors=True)
        if self.originals_dir.is_dir() and not any(self.originals_dir.iterdir()):
            self.originals_dir.rmdir()

    def verify(self, record: Record) -> list[str]:
        """Files whose bytes no longer match the record (empty when intact)."""
        problems = []
        for rel, meta in record.run.artifacts.items():
            path = record.path / rel
            if not path.is_file():
                problems.append(f"{rel}: missing")
            elif file_sha256(path) != meta.sha256:
                problems.append(f"{rel}: sha256 differs")
        return problems

