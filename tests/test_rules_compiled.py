"""The rules cache (mlperf_ops/rules/compiled.py): a cached round reads as the YAML does,
is keyed by the file's bytes, and any trouble with it only means parsing again."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlperf_ops import rules
from mlperf_ops.core.cachedir import CACHE_ENV
from mlperf_ops.rules import compiled


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    rules.load_rules.cache_clear()
    yield tmp_path / "cache"
    rules.load_rules.cache_clear()


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: bytes) -> Any:
        self.calls += 1
        return yaml.safe_load(text)


@pytest.mark.parametrize("round_name", rules.available_rounds())
def test_a_cached_round_is_the_round_the_yaml_gives(cache: Path, round_name: str) -> None:
    fresh = rules.load_rules(round_name)
    assert list((cache / compiled.SUBDIR).glob(f"{round_name}-*.json")), "nothing was cached"
    rules.load_rules.cache_clear()
    assert rules.load_rules(round_name) == fresh  # read back from the cache


def test_the_second_read_does_not_parse_and_other_bytes_do(cache: Path) -> None:
    parse = Counting()
    text = b"round: v9.9\nseeds: {qsl: 1}\n"
    first = compiled.parsed("v9.9", text, parse)
    assert compiled.parsed("v9.9", text, parse) == first and parse.calls == 1
    compiled.parsed("v9.9", text + b"min_duration_ms: 1\n", parse)
    assert parse.calls == 2


def test_a_damaged_cache_file_is_parsed_again_and_mended(cache: Path) -> None:
    parse = Counting()
    text = b"a: [1, 2]\n"
    compiled.parsed("x", text, parse)
    path = compiled.cache_path_for("x", text)
    path.write_bytes(b'{"a": [1,')  # a torn write from some other tool
    assert compiled.parsed("x", text, parse) == {"a": [1, 2]} and parse.calls == 2
    assert compiled.parsed("x", text, parse) == {"a": [1, 2]} and parse.calls == 2


def test_data_json_cannot_carry_is_never_cached(cache: Path) -> None:
    parse = Counting()
    for text in (b"when: 2026-12-01\n", b"1: one\n"):  # a date; an integer key
        data = compiled.parsed("x", text, parse)
        assert data == yaml.safe_load(text)
        assert not compiled.cache_path_for("x", text).exists()
    assert isinstance(compiled.parsed("x", b"when: 2026-12-01\n", parse)["when"], datetime.date)


def test_an_unwritable_cache_only_costs_a_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    parse = Counting()
    assert compiled.parsed("x", b"a: 1\n", parse) == {"a": 1}
    assert compiled.parsed("x", b"a: 1\n", parse) == {"a": 1} and parse.calls == 2


def test_a_cached_round_needs_no_yaml(tmp_path: Path) -> None:
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    code = ("import sys; from mlperf_ops.rules import load_rules; load_rules('v6.0'); "
            "print('yaml' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]
