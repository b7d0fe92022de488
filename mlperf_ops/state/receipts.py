"""Upload receipts: one JSON file per upload attempt in `<state>/receipts/`.

A receipt is the only local record of what the portal holds. The portal keeps just the
latest upload per submitter, so the uploader reads the last receipt for the same portal
and submitter to refuse re-sending an older tarball or the same one twice. Receipts hold
no secrets: the portal URL is stored without query or credentials and every error text
is redacted before it gets here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlperf_ops.core import atomic
from mlperf_ops.state import layout

RECEIPTS_DIR = layout.RECEIPTS

# result values
OK = "ok"  # all three steps done
UPLOADED_CHECK_NOT_STARTED = "uploaded-check-not-started"  # PUT done, step 3 failed
FAILED = "failed"  # nothing reached the portal's storage (as far as we know)
REFUSED = "refused"  # stopped by a guard after talking to the portal (e.g. name mismatch)
DRY_RUN = "dry-run"  # never written
ALREADY_UPLOADED = "already-uploaded"  # never written: the previous receipt, returned again

# Results after which the portal holds this tarball (it replaced whatever was there).
ON_PORTAL = (OK, UPLOADED_CHECK_NOT_STARTED)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Receipt:
    tarball: str
    sha256: str
    size: int
    submitter_name: str
    portal_url: str
    tool_version: str
    result: str
    created_at: str  # when the tarball was made (report.json or file mtime), ISO 8601 UTC
    created_source: str
    submission_id: str | None = None
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    benchmark: str = "Inference"
    check: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    url_refreshes: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)  # dry-run only
    path: str | None = None  # where it was written (not stored in the file)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        if not data["planned"]:
            data.pop("planned")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> Receipt:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "path"}
        return cls(**values, path=str(path) if path else None)


class ReceiptStore:
    """Receipts under `<state_dir>/receipts/`, written atomically, never edited."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / RECEIPTS_DIR

    def write(self, receipt: Receipt) -> Receipt:
        stamp = (receipt.finished_at or utc_now()).replace(":", "").replace("-", "")
        stamp = stamp.replace("+0000", "Z").replace(".", "")
        path = self.root / f"{stamp}-{receipt.sha256[:12]}-{receipt.result}.json"
        atomic.write_json(path, receipt.to_dict())
        return Receipt.from_dict(receipt.to_dict(), path)

    def all(self) -> list[Receipt]:
        if not self.root.is_dir():
            return []
        receipts: list[Receipt] = []
        for path in self.root.glob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                receipts.append(Receipt.from_dict(data, path))
            except (OSError, ValueError, TypeError):
                continue  # a foreign or damaged file is not a receipt
        receipts.sort(key=lambda r: (r.finished_at, r.path or ""))
        return receipts

    def latest_on_portal(self, portal_url: str, submitter_name: str) -> Receipt | None:
        """The newest receipt whose tarball the portal (still) holds, as far as we know."""
        matching = [
            r
            for r in self.all()
            if r.portal_url == portal_url
            and r.submitter_name == submitter_name
            and r.result in ON_PORTAL
        ]
        return matching[-1] if matching else None
