"""The README is a user's document: keep its promises in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import click

from mlperf_ops.check import rule_table
from mlperf_ops.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def test_every_checker_rule_id_is_listed() -> None:
    listed = set(re.findall(r"^\| `([a-z0-9.-]+)` \|", README, flags=re.M))
    assert listed == {rule_id for rule_id, _, _ in rule_table()}


def test_every_verb_in_the_readme_exists() -> None:
    verbs = set(re.findall(r"`mlperf-ops ([a-z][a-z-]*)", README))  # a verb, not an option
    assert verbs, "the README names no verbs"
    known = set(cli.list_commands(click.Context(cli)))
    assert verbs <= known, verbs - known


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make submission" in first_block and "make test" in first_block


def test_every_verb_has_a_row_in_the_verbs_table() -> None:
    table = README.split("## The verbs", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `mlperf-ops ")]
    named = {verb for row in rows for verb in re.findall(r"`(?:mlperf-ops )?([a-z][a-z-]*)[` ]", row.split(" | ")[0])}
    assert set(cli.list_commands(click.Context(cli))) <= named, set(cli.list_commands(click.Context(cli))) - named
