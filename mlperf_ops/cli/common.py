"""Options and output helpers every verb shares."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_STATE_DIR = ".mlperf-ops"


def state_dir_option(func: F) -> F:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("MLPERF_OPS_STATE", DEFAULT_STATE_DIR),
        show_default=f"$MLPERF_OPS_STATE or {DEFAULT_STATE_DIR}",
        help="Where the ledger of run records lives.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")(
        func
    )


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
