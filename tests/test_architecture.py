"""The package's layers, held by reading every module's imports (AST, not grep).

The rules, and why:
- docker-py is imported only by `execute/engine.py`: everything else works with the
  Docker-free `execute/executor.py`, so the planner, the ledger and their tests run
  without an engine, and a pod without Docker runs the same code.
- HTTP libraries are imported only by the portal client and its local stand-in
  (`ship/portal.py`, `ship/devportal.py`), by the LLM harness (its job is HTTP to the
  inference server), and by the engine (docker-py's transport errors are `requests`'
  exceptions; it sends nothing itself).
- The state directory is written only by `state/`: only it knows the layout
  (`state/layout.py`) and the ledger's own folders; nothing else makes a path under
  `ledger.root` or `state_dir`.
- `harness/` runs inside the images, where mlperf_ops is not installed: it imports
  nothing of the package outside itself.
- Lower layers never import higher ones: `core/` imports nothing else of mlperf_ops;
  `rules/`, `yamlfile/`, `state/` and `execute/` only `core/` and themselves; nothing
  imports the CLI; and no two packages import each other, directly or round a circle.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlperf_ops"

DOCKER = {"docker"}
HTTP = {"requests", "httpx", "urllib3", "aiohttp", "http.client", "http.server", "urllib.request", "socketserver"}
DOCKER_ALLOWED = {"execute/engine.py"}
HTTP_ALLOWED_PREFIXES = ("execute/engine.py", "ship/portal.py", "ship/devportal.py", "harness/llm/")
# Which packages of mlperf_ops each lower layer may import (besides itself).
LOWER_LAYERS = {
    "core": set(),
    "rules": {"core"},
    "yamlfile": {"core"},
    "state": {"core"},
    "execute": {"core"},
}
LEDGER_FOLDERS = {"records_dir", "attempts_dir", "staging_dir", "originals_dir"}


@dataclass(frozen=True)
class Violation:
    module: str  # path relative to the package
    line: int
    rule: str
    what: str

    def __str__(self) -> str:
        return f"mlperf_ops/{self.module}:{self.line}: {self.rule}: {self.what}"


@dataclass(frozen=True)
class Import:
    line: int
    name: str  # absolute dotted name ("mlperf_ops.core.errors", "docker", "requests.adapters")


def _imports(tree: ast.Module, module: str) -> Iterator[Import]:
    """Every import of a module, relative ones made absolute, lazy ones included."""
    parts = ["mlperf_ops", *module[:-3].split("/")]
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield Import(node.lineno, prefix)
            for alias in node.names:
                yield Import(node.lineno, f"{prefix}.{alias.name}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("lazy_module", "import_module", "__import__"):
                yield Import(node.lineno, node.args[0].value)


def _is(name: str, libraries: set[str]) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in libraries)


def _package_of(name: str) -> str | None:
    """`mlperf_ops.core.errors` -> `core`; `mlperf_ops.report` -> `report`; others None."""
    parts = name.split(".")
    if len(parts) < 2 or parts[0] != "mlperf_ops" or parts[1].startswith("__"):
        return None  # not ours, or the package's own face (`mlperf_ops.__version__`)
    return parts[1]


def violations(root: Path) -> list[Violation]:
    found: list[Violation] = []
    edges: dict[str, dict[str, tuple[str, int]]] = {}  # package -> imported package -> (module, line)
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        top = module.split("/")[0].removesuffix(".py")
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for imp in _imports(tree, module):
            if _is(imp.name, DOCKER) and module not in DOCKER_ALLOWED:
                found.append(Violation(module, imp.line, "docker outside the engine", imp.name))
            if _is(imp.name, HTTP) and not module.startswith(HTTP_ALLOWED_PREFIXES):
                found.append(Violation(module, imp.line, "HTTP outside the portal, the dev portal and the LLM harness",
                                       imp.name))
            target = _package_of(imp.name)
            if target is None:
                continue
            if top == "harness" and target != "harness":
                found.append(Violation(module, imp.line, "harness imports the package", imp.name))
            if target == "state" and imp.name.startswith("mlperf_ops.state.layout") and top != "state":
                found.append(Violation(module, imp.line, "state layout outside state/", imp.name))
            if target == "cli" and top not in ("cli", "__main__"):
                found.append(Violation(module, imp.line, "the CLI imported by the library", imp.name))
            if top in LOWER_LAYERS and target != top and target not in LOWER_LAYERS[top]:
                found.append(Violation(module, imp.line, f"{top}/ imports a higher layer", imp.name))
            if target != top and top not in ("cli", "__main__", "__init__"):
                edges.setdefault(top, {}).setdefault(target, (module, imp.line))
        if top != "state":
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in LEDGER_FOLDERS:
                    found.append(Violation(module, node.lineno, "state directory outside state/", node.attr))
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _is_state_root(node.left):
                    found.append(Violation(module, node.lineno, "state directory outside state/",
                                           "a path under the ledger's root"))
    found += _cycles(edges)
    return found


def _is_state_root(node: ast.expr) -> bool:
    """`ledger.root` or `state_dir` on the left of a `/`: a path made inside the state directory."""
    if isinstance(node, ast.Attribute) and node.attr == "root":
        return isinstance(node.value, ast.Name) and "ledger" in node.value.id
    return isinstance(node, ast.Name) and node.id == "state_dir"


def _cycles(edges: dict[str, dict[str, tuple[str, int]]]) -> list[Violation]:
    """One violation per circle of packages that import each other."""
    out: list[Violation] = []
    seen: set[frozenset[str]] = set()

    def walk(start: str, node: str, trail: list[str]) -> None:
        for nxt in edges.get(node, {}):
            if nxt == start:
                circle = frozenset(trail)
                if circle not in seen:
                    seen.add(circle)
                    module, line = edges[node][nxt]
                    out.append(Violation(module, line, "packages import each other", " -> ".join([*trail, start])))
            elif nxt not in trail and nxt > start:  # each circle once, from its smallest member
                walk(start, nxt, [*trail, nxt])

    for start in sorted(edges):
        walk(start, start, [start])
    return out


def test_the_package_keeps_its_layers() -> None:
    found = violations(PACKAGE)
    assert not found, "\n".join(map(str, found))


PLANTED = {
    "plan/matrix.py": ("import docker\n", "docker outside the engine"),
    "run/outcome.py": ("from mlperf_ops.core.lazymodule import lazy_module\nrequests = lazy_module('requests')\n",
                       "HTTP outside"),
    "submission/assemble.py": ("from mlperf_ops.state.layout import RECORDS\n", "state layout outside state/"),
    "run/status.py": ("def sneak(ledger):\n    return ledger.records_dir\n", "state directory outside state/"),
    "run/rerun.py": ("def sneak(ledger):\n    return ledger.root / 'mine'\n", "state directory outside state/"),
    "harness/dataset.py": ("from mlperf_ops.core import errors\n", "harness imports the package"),
    "core/units.py": ("from mlperf_ops.plan import matrix\n", "core/ imports a higher layer"),
    "state/record.py": ("from mlperf_ops.run import outcome\n", "state/ imports a higher layer"),
    "ship/pack.py": ("from mlperf_ops.cli import common\n", "the CLI imported by the library"),
    "check/hygiene.py": ("from mlperf_ops.ship import pack\n", "packages import each other"),
}


@pytest.mark.parametrize("module", sorted(PLANTED))
def test_a_planted_violation_is_found(tmp_path: Path, module: str) -> None:
    copy = tmp_path / "mlperf_ops"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    line, rule = PLANTED[module]
    target = copy / module
    target.write_text(target.read_text("utf-8") + "\n" + line, "utf-8")
    found = [str(v) for v in violations(copy)]
    assert any(f"mlperf_ops/{module}:" in v and rule in v for v in found) or \
        (rule == "packages import each other" and any(rule in v for v in found)), found
