"""`check --csv` on every variant of a real excerpt: the official checker's summary CSV.

Each module below builds variants of published excerpts (one value, file or folder
changed); scripts/record_official_verdicts.py kept, besides the official checker's
verdicts, the summary CSV it wrote for each (`summary_csv`, the tree's path written
"tree"). Ours must write the same bytes: the same rows, values, units, inferred flags and
accuracy texts. Where ours refuses on purpose a result the official checker accepts (the
module's STRICTER), the official row of that result is the one difference; where ours
reports the value MLCommons published instead of the official checker's (the module's
VALUE_AS_PUBLISHED: an endpoints LLM's tokens/s), that row's Result is the other.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.check.summary_csv import render, summary_rows  # noqa: E402

MODULES = (
    "test_check_accuracy_txt",
    "test_check_power",
    "test_check_variants_accuracy_run",
    "test_check_variants_compliance",
    "test_check_variants_open_edge",
    "test_check_variants_performance",
    "test_check_variants_structure",
    "test_check_variants_system_json",
    "test_check_variants_v51",
    "test_check_variants_v61",
    "test_check_variants_v61_llm",
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"tests.{name}")


def _cases() -> list[tuple[str, str]]:
    return [(name, variant) for name in MODULES for variant in sorted(_module(name).VARIANTS)]


def _changed(module: ModuleType, variant: str) -> str:
    by_variant = getattr(module, "CHANGED_RESULT", None)
    return by_variant[variant] if by_variant is not None else module.CHANGED


def test_every_variant_has_its_official_csv() -> None:
    for name in MODULES:
        module = _module(name)
        recorded = json.loads(Path(module.RECORDED).read_text())["summary_csv"]
        assert set(recorded) == set(module.VARIANTS), name
        # rows, not only a header: the CSV has something to differ in
        assert sum(text.count("\n") - 1 for text in recorded.values()) >= len(recorded), name


def _with_published_results(official: str, published: dict[str, float]) -> str:
    """The official CSV with the Result of each row of a `published` result (by its
    Location) replaced by the published value, written as ours writes a number."""
    lines = official.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    result, location = header.index("Result"), header.index("Location")
    out = [lines[0]]
    for line in lines[1:]:
        fields = next(csv.reader([line]))
        value = next((v for where, v in published.items() if fields[location] == f"tree/{where}/performance/run_1"),
                     None)
        if value is not None:
            assert float(fields[result]) != value, "the official CSV has the published value: no longer a difference"
            assert not any('"' in field for field in fields)
            fields[result] = str(value)
            line = ",".join(f'"{field}"' for field in fields) + "\n"
        out.append(line)
    return "".join(out)


@pytest.mark.parametrize("name,variant", _cases(), ids=[f"{n[5:]}-{v}" for n, v in _cases()])
def test_our_csv_is_the_official_one(name: str, variant: str, tmp_path: Path) -> None:
    module = _module(name)
    official = json.loads(Path(module.RECORDED).read_text())["summary_csv"][variant]
    if variant in getattr(module, "STRICTER", {}):
        changed = f'"tree/{_changed(module, variant)}/'
        official = "".join(line for line in official.splitlines(keepends=True) if changed not in line)
    official = _with_published_results(official, getattr(module, "VALUE_AS_PUBLISHED", {}))
    root = module.build(variant, tmp_path / "tree").resolve()
    report = check_tree(root, round=getattr(module, "ROUND", "v6.0"))
    assert render(summary_rows(report)).replace(str(root), "tree") == official
