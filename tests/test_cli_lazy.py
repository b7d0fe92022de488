"""The CLI imports a verb's module only when that verb runs (start-up cost, issue 16)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click

import mlperf_ops.cli as cli_package
from mlperf_ops.cli import VERBS

# Modules that cost tens of milliseconds each to import; none is needed for `--version`.
HEAVY = ("jsonschema", "requests", "rich", "docker", "yaml", "mlperf_ops.manifest", "mlperf_ops.check")


def _printed(code: str) -> str:
    """What `python -c code` prints, in a fresh interpreter (nothing imported yet)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_verbs_table_matches_what_the_modules_register() -> None:
    registered: dict[str, str] = {}
    for info in pkgutil.iter_modules(cli_package.__path__):
        if info.name.startswith("cmd_"):
            group = click.Group()
            importlib.import_module(f"mlperf_ops.cli.{info.name}").register(group)
            registered.update({verb: info.name for verb in group.commands})
    assert registered == VERBS


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = (
        "import sys, mlperf_ops.cli; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    printed = _printed(code)
    assert printed.strip() == ""


def test_a_verb_loads_only_its_own_module() -> None:
    code = (
        "import sys, click, mlperf_ops.cli as c; "
        "c.cli.get_command(click.Context(c.cli), 'pack'); "
        "print(sorted(m for m in sys.modules if m.startswith('mlperf_ops.cli.cmd_')))"
    )
    printed = _printed(code)
    assert printed.strip() == "['mlperf_ops.cli.cmd_pack']"


def test_the_engine_module_loads_docker_only_when_used() -> None:
    code = (
        "import sys, mlperf_ops.execute.engine as e; "
        "before = 'docker.api' in sys.modules or 'requests.sessions' in sys.modules; "
        "e.docker.errors.NotFound; "
        "print(before, 'docker.api' in sys.modules)"
    )
    printed = _printed(code)
    assert printed.split() == ["False", "True"]


def test_the_manifest_loads_no_checker() -> None:
    """validate and apply read a manifest; they use two helpers of mlperf_ops.check
    (measurements keys, system descriptions), not the checker behind them."""
    code = ("import sys, mlperf_ops.manifest, mlperf_ops.manifest.crosscheck; "
            "print(sorted(m for m in ('mlperf_ops.check.runner', 'mlperf_ops.check.scenario') if m in sys.modules))")
    printed = _printed(code)
    assert printed.strip() == "[]"


def test_the_check_package_names_what_it_loads_lazily() -> None:
    import mlperf_ops.check as check

    assert sorted(check.__all__) == sorted(check._WHERE)
    for name in check.__all__:
        assert getattr(check, name) is not None


def _help(columns: int, load_every_verb: bool) -> str:
    code = ("import click, mlperf_ops.cli as c; "
            + ("[c.cli.get_command(click.Context(c.cli), v) for v in c.VERBS]; " if load_every_verb else "")
            + "import sys; sys.exit(c.main(['--help']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": str(columns)})
    return done.stdout


def test_help_lists_each_verb_as_its_own_help_says_it() -> None:
    """`--help` lists the verbs from VERB_HELP: it must read as it would with every verb's
    module loaded, shortened alike at each width."""
    for columns in (60, 80, 200):
        listed = _help(columns, load_every_verb=False)
        assert listed == _help(columns, load_every_verb=True)
        assert all(verb in listed for verb in VERBS)


def test_help_loads_no_verb_module() -> None:
    code = ("import contextlib, io, sys, mlperf_ops.cli as c\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    c.main(['--help'])\n"
            f"print(sorted(m for m in sys.modules if m.startswith('mlperf_ops.cli.cmd_') or m in {HEAVY!r}))")
    printed = _printed(code)
    assert printed.strip() == "[]"


def test_the_program_is_run_which_freezes_what_main_made_before_the_exit() -> None:
    """The installed `mlperf-ops` and `python -m mlperf_ops` call run(): main(), then
    gc.freeze() so that the interpreter's last collection skips every object the
    command made (10-15 ms of a check). main() itself, which tests call, freezes nothing."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "mlperf-ops"]
    assert script.value == "mlperf_ops.cli:run"
    code = (
        "import gc, sys; sys.argv = ['mlperf-ops', '--version']; "
        "from mlperf_ops.cli import main, run; "
        "before = gc.get_freeze_count(); main(['--version']); after_main = gc.get_freeze_count(); "
        "rc = run(); print(rc, before, after_main, gc.get_freeze_count() > after_main)"
    )
    printed = _printed(code)
    rc, before, after_main, frozen = printed.split()[-4:]
    assert (rc, before, after_main, frozen) == ("0", "0", "0", "True")


def test_what_the_program_prints_is_whole_after_the_quick_exit(tmp_path: Path) -> None:
    from tests.support import treegen

    tree = treegen.copy_tree(tmp_path / "tree")
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "check", str(tree), "--json"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_what_check_loads_makes_no_dataclass_but_problem() -> None:
    """Each dataclass costs ~0.5 ms as its module is imported (Python 3.11 compiles its
    methods); the types a check loads are msgspec Structs (docs/architecture.md)."""
    code = (
        "import sys, dataclasses, click, mlperf_ops.cli as c; "
        "c.cli.get_command(click.Context(c.cli), 'check'); "
        "import mlperf_ops.check.runner, mlperf_ops.check.scenario, mlperf_ops.check.hygiene; "
        "print(sorted(f'{n}.{k}' for n, m in list(sys.modules.items()) if n.startswith('mlperf_ops') "
        "for k, v in vars(m).items() if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == n))"
    )
    printed = _printed(code)
    assert printed.strip() == "['mlperf_ops.core.errors.Problem']"
