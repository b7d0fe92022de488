"""The memo of schema acceptances: skips jsonschema for a document accepted before, never
hides a problem (issue 16: no-op apply)."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.yamlfile import validmemo

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(validmemo.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_only_acceptances_are_remembered_and_keys_follow_schema_and_data() -> None:
    ok = validmemo.key(SCHEMA, {"a": 1})
    assert not validmemo.known_valid(ok)
    validmemo.remember_valid(ok)
    assert validmemo.known_valid(ok)
    assert not validmemo.known_valid(validmemo.key(SCHEMA, {"a": "1"}))
    assert not validmemo.known_valid(validmemo.key({**SCHEMA, "required": ["b"]}, {"a": 1}))


def test_data_that_is_not_plain_json_is_never_memoised() -> None:
    assert validmemo.key(SCHEMA, {"a": datetime.date(2020, 1, 1)}) is None
    assert validmemo.key(SCHEMA, {"a": float("nan")}) is None
    assert not validmemo.known_valid(None)


def test_a_second_validation_of_an_accepted_manifest_skips_jsonschema(cache_dir: Path, tmp_path: Path) -> None:
    manifest = Path(__file__).resolve().parents[1] / "manifests" / "demo.yaml"
    code = ("import sys; from mlperf_ops.manifest import check_manifest; "
            f"from pathlib import Path; _, problems = check_manifest(Path({str(manifest)!r})); "
            "print(len(problems), 'jsonschema' in sys.modules)")
    env = {"PATH": "/usr/bin:/bin", validmemo.CACHE_ENV: str(cache_dir), "HOME": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert first.stdout.split() == ["0", "True"]
    assert second.stdout.split() == ["0", "False"]
