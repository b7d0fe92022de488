"""Our check held to the official checker on variants of real published excerpts.

A variant module (tests/test_check_variants_*.py, tests/test_check_accuracy_txt.py) copies
an excerpt of tests/data/real_trees/ and changes one value, file or folder per variant;
`scripts/record_official_verdicts.py CHECKOUT --variants MODULE` recorded what the official
checker said of every result of each variant. These are the steps and assertions those
modules share; what is particular to one (which excerpt, which result a variant changes,
which variants ours refuses on purpose: its STRICTER) stays in it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mlperf_ops.check.findings import CheckReport

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real_trees"
# the mlcommons/inference commit whose checker the recordings come from
OFFICIAL_COMMIT = "b66003e10e2db4b8c36a448b0545ec90fcc6e9e9"


def copy_excerpt(excerpt: str, root: Path, change: Callable[[Path], None]) -> Path:
    """The excerpt's tree copied to the new directory `root`, then changed."""
    shutil.copytree(CORPUS / excerpt / "tree", root)
    change(root)
    assert root.is_dir()
    return root


# Changes of one file of an excerpt, shared by the variant modules

def delete(path: Path) -> None:
    path.unlink()


def empty(path: Path) -> None:
    path.write_text("")


def new_file(text: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        assert not path.exists(), path
        path.write_text(text)

    return change


def log_value(key: str, old: str, new: str) -> Callable[[Path], None]:
    """The `value` of the first MLLOG line of `key` in a detail log, `old` -> `new`."""

    def change(path: Path) -> None:
        lines = path.read_text().split("\n")
        i = next(i for i, line in enumerate(lines) if f'"key": "{key}"' in line)
        assert f'"value": {old},' in lines[i], lines[i]
        lines[i] = lines[i].replace(f'"value": {old},', f'"value": {new},', 1)
        path.write_text("\n".join(lines))

    return change


# Changes of a tree, `where` relative to its root (the structure and v6.1 modules)

def add_file(where: str, text: str = "x\n") -> Callable[[Path], None]:
    """A file that was not there, its folders made as needed."""

    def change(root: Path) -> None:
        path = root / where
        assert not path.exists(), path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return change


def remove(*wheres: str) -> Callable[[Path], None]:
    """Files or folders taken away, each of which must be there."""

    def change(root: Path) -> None:
        for where in wheres:
            path = root / where
            assert path.exists(), path
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    return change


def folder_as_file(where: str) -> Callable[[Path], None]:
    """A folder replaced by a file of the same name."""

    def change(root: Path) -> None:
        shutil.rmtree(root / where)
        (root / where).write_text("x\n")

    return change


def replace_seeds(files: Iterable[Path], before: Mapping[str, int], after: Mapping[str, int]) -> int:
    """Each of LoadGen's three seeds written as another round's in `files` (the logs of a
    tree, as a LoadGen of that round would have logged them); the number of files changed."""
    changed = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        edited = text
        for name, value in before.items():
            edited = edited.replace(str(value), str(after[name]))
        if edited != text:
            path.write_text(edited, encoding="utf-8", errors="surrogateescape")
            changed += 1
    return changed


def move(where: str, to: str) -> Callable[[Path], None]:
    """A file or folder moved (or renamed) from `where` to `to`, both in the tree."""

    def change(root: Path) -> None:
        (root / where).rename(root / to)

    return change


def replace_text(where: str, old: str, new: str) -> Callable[[Path], None]:
    """A file's one occurrence of `old` written as `new`."""

    def change(root: Path) -> None:
        path = root / where
        text = path.read_text()
        assert text.count(old) == 1, (path, old)
        path.write_text(text.replace(old, new))

    return change


def recorded(path: Path) -> dict[str, Any]:
    """A module's recording (RECORDED); empty before the recorder first wrote it (the
    recorder imports the module to build the variants it then records)."""
    if not path.is_file():
        return {"variants": {}, "checker": {}}
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def assert_every_variant_recorded(doc: dict[str, Any], variants: Any, expected_rule: dict[str, str | None],
                                  changed: Callable[[str], str],
                                  group: Callable[[str], Hashable] = lambda variant: None) -> None:
    """Each variant was recorded, by the official checker at OFFICIAL_COMMIT, and in each
    `group` of variants the changed result is both accepted and refused somewhere: a
    checker that refused (or accepted) everything would not pass the agreement test."""
    assert set(doc["variants"]) == set(variants) == set(expected_rule)
    assert doc["checker"]["commit"] == OFFICIAL_COMMIT
    seen: dict[Hashable, set[bool]] = {}
    for variant, results in doc["variants"].items():
        seen.setdefault(group(variant), set()).add(next(r["valid"] for r in results if r["result"] == changed(variant)))
    for verdicts in seen.values():
        assert verdicts == {True, False}


def assert_agrees(report: CheckReport, official_results: list[dict[str, Any]], changed: str,
                  expected_rule: str | None, stricter: bool = False) -> None:
    """Ours gives every result of the tree the official verdict (a result only one checker
    reports fails too), and refuses the changed result for `expected_rule` alone, or
    accepts it (None). `stricter`: ours refuses the changed result on purpose where the
    official checker accepts it (the module's STRICTER says why)."""
    official = {r["result"]: r["valid"] for r in official_results}
    assert "check.internal" not in report.rule_ids()
    if stricter:
        assert official[changed], "the official checker refuses it too: no longer stricter"
        official[changed] = False
    row = next((r for r in report.results if r.path == changed), None)
    assert {r.path: r.valid for r in report.results} == official, row.reasons if row else None
    assert row is not None
    if expected_rule is None:
        assert row.valid, row.reasons
    else:
        assert not row.valid and {f["rule_id"] for f in row.reasons} == {expected_rule}, row.reasons
