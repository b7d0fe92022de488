"""The closed division's paperwork in the tree: `calibration.md` and each harness's source in `src/`.

Both come from files the manifest names (paths relative to the manifest), so `assemble`
rebuilds them every time and nothing has to be added to the tree by hand (a hand-added
file would be wiped by the next `assemble`, which replaces the whole tree).

Source directories are copied as a reviewer should see them: regular files only —
no hidden files or directories, no caches, no symbolic links (`check --strict`
refuses them, and a link could pull in anything on the machine) — under a size
limit, because `src/` is for code, not for models or data sets.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.events import Event, EventSink
from mlperf_ops.manifest.model import Manifest

CALIBRATION_MD = "calibration.md"
SOURCE_LIMIT_BYTES = 20 * 1024 * 1024
CACHE_DIRS = frozenset({"__pycache__", "node_modules"})
CACHE_SUFFIXES = (".pyc", ".pyo", ".o", ".so", ".a")
PAPERWORK_DIVISIONS = ("closed", "network")


@dataclass(frozen=True)
class SourceCopy:
    benchmark: str
    system: str
    source: Path
    dest: str  # relative to src/
    files: int
    size: int


def manifest_relative(manifest: Manifest, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else Path(manifest.path).parent / path


def _skipped(name: str, is_dir: bool) -> bool:
    if name.startswith("."):
        return True
    return name in CACHE_DIRS if is_dir else name.endswith(CACHE_SUFFIXES)


def source_files(root: Path, limit: int = SOURCE_LIMIT_BYTES) -> list[tuple[Path, int]]:
    """The files of `root` that go into src/ (sorted), with their sizes; raises past the limit."""
    if not root.is_dir() or root.is_symlink():
        raise UsageError(f"harness source {root} is not a directory",
                         hint="`source:` names a directory of the harness's code, relative to the manifest")
    found: list[tuple[Path, int]] = []
    total = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        # Pruning in place stops os.walk from descending into skipped or linked directories.
        dirs[:] = sorted(d for d in dirs if not _skipped(d, True) and not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            if _skipped(name, False) or path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            total += size
            if total > limit:
                raise UsageError(
                    f"harness source {root} is over the {limit // (1024 * 1024)} MiB limit for src/ "
                    f"(reached at {path.relative_to(root)})",
                    hint="point `source:` at the code only: models, data sets and build outputs do not belong in src/")
            found.append((path, size))
    if not found:
        raise UsageError(f"harness source {root} has no files to copy (hidden files, caches and links are left out)")
    return sorted(found, key=lambda item: item[0].relative_to(root).as_posix())


def write_paperwork(manifest: Manifest, top: Path, *, submittable: bool, on_event: EventSink) -> list[SourceCopy]:
    """Write calibration.md and every benchmark's declared source under `top` (<division>/<submitter>).

    A closed or network submission without them is refused when the profile is
    submittable, and only warned about in a smoke tree.
    """
    missing: list[str] = []
    if manifest.calibration_md:
        calibration = manifest_relative(manifest, manifest.calibration_md)
        if not calibration.is_file():
            raise UsageError(f"calibration_md: {calibration} is not a file",
                             hint="write the submitter's calibration.md and name it (relative to the manifest)")
        shutil.copyfile(calibration, top / CALIBRATION_MD)
    elif manifest.division in PAPERWORK_DIVISIONS:
        missing.append(f"calibration.md (add `calibration_md: PATH` to {manifest.path})")

    copies: list[SourceCopy] = []
    by_source: dict[Path, str] = {}
    taken: set[str] = set()
    for system in manifest.systems:
        for bench in system.benchmarks:
            if not bench.source:
                if bench.command and manifest.division in PAPERWORK_DIVISIONS:
                    missing.append(f"the source of {system.id}/{bench.name}'s harness (add `source: DIR`)")
                continue
            root = manifest_relative(manifest, bench.source).resolve()
            dest = by_source.get(root)
            if dest is None:
                dest = bench.name if bench.name not in taken else f"{bench.name}-{system.id}"
                files = source_files(root)
                for path, _ in files:
                    target = top / "src" / dest / path.relative_to(root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                by_source[root] = dest
                taken.add(dest)
                copies.append(SourceCopy(bench.name, system.id, root, dest, len(files), sum(s for _, s in files)))
            else:
                copies.append(SourceCopy(bench.name, system.id, root, dest, 0, 0))
    if missing:
        text = f"a {manifest.division} submission needs " + "; ".join(missing)
        if submittable:
            raise UsageError(text, hint="docs/harness.md, 'Closed-division paperwork'")
        on_event(Event("warning", text + " (smoke tree: not enforced)"))
    return copies
