"""The application layer: turn a manifest path into the things every verb needs.

It wires the pure parts (manifest, rules, planner) to the edges (image hashing on
disk, the ledger) so that the CLI stays a thin shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlperf_ops.core.errors import Problem, UsageError
from mlperf_ops.manifest import HostFacts, Manifest, check_manifest, load_manifest
from mlperf_ops.manifest.documents import system_document
from mlperf_ops.manifest.pipeline import Profile, load_profile
from mlperf_ops.plan.matrix import Plan, plan
from mlperf_ops.core.project import find_project_root
from mlperf_ops.rules import Rules, load_rules
from mlperf_ops.state.ledger import Ledger
from mlperf_ops.execute.probe import probe_host

HARNESS_DIR = Path(__file__).resolve().parents[1] / "harness"


@dataclass(frozen=True)
class Context:
    manifest: Manifest
    rules: Rules
    profile: Profile
    project_root: Path
    image_identities: dict[str, str]

    @property
    def images_dir(self) -> Path:
        return self.project_root / "images"


def image_targets(manifest: Manifest) -> list[str]:
    targets = {s.image for s in manifest.systems}
    targets |= {b.image for s in manifest.systems for b in s.benchmarks if b.image}
    return sorted(targets)


def image_identity(images_dir: Path, target: str) -> str:
    """The content hash of a target's build inputs, known before anything is built."""
    from mlperf_ops.stacks import images

    return images.spec_hash(images.load_target(images_dir, target), HARNESS_DIR)


def host_facts(ledger: Ledger) -> HostFacts:
    """Host facts per system: the probe recorded where its runs happened, else this host's.

    The local probe is taken at most once (it runs lscpu and reads /proc).
    """
    local: list[dict[str, str]] = []

    def facts(system_id: str) -> dict[str, str]:
        recorded = ledger.probe(system_id)
        if recorded is not None:
            return recorded
        if not local:
            local.append(probe_host())
        return local[0]

    return facts


def describe_systems(
    ctx: Context, facts: HostFacts, *, system: str | None = None
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """`systems/<id>.json` as `assemble` will write it, and the problems validation finds in
    the tree's documents (limited to `system` when given), at their manifest lines."""
    docs = {spec.id: system_document(ctx.manifest, spec, ctx.rules, ctx.images_dir, facts(spec.id))
            for spec in ctx.manifest.systems if system is None or spec.id == system}
    _, problems = check_manifest(Path(ctx.manifest.path), ctx.project_root, host_facts=facts)
    if system is not None:
        index = next(i for i, s in enumerate(ctx.manifest.systems) if s.id == system)
        prefix = f"systems[{index}]"
        problems = [p for p in problems if p.path == prefix or p.path.startswith((f"{prefix}.", f"{prefix}["))]
    return docs, problems


def load_context(manifest_path: Path, *, pipeline: str | None = None, system: str | None = None,
                 describe_with: HostFacts | None = None) -> Context:
    """Everything a verb needs. `describe_with` also validates the system descriptions (tier 3)."""
    manifest = load_manifest(manifest_path, host_facts=describe_with)
    if system is not None and system not in {s.id for s in manifest.systems}:
        raise UsageError(f"system {system!r} is not in {manifest_path}",
                         hint=f"systems: {', '.join(s.id for s in manifest.systems)}")
    project_root = find_project_root(manifest_path)
    profile = load_profile(project_root, pipeline or manifest.pipeline)
    rules = load_rules(manifest.round)
    identities = {t: image_identity(project_root / "images", t) for t in image_targets(manifest)}
    return Context(manifest=manifest, rules=rules, profile=profile, project_root=project_root,
                   image_identities=identities)


def make_plan(ctx: Context, ledger: Ledger, *, system: str | None = None, only: str | None = None) -> Plan:
    full = plan(ctx.manifest, ctx.rules, ctx.profile, ctx.image_identities, ledger.snapshot())
    if system is None and only is None:
        return full
    import fnmatch

    chosen = {
        r.spec.run_id for r in full.runs
        if (system is None or r.spec.system == system)
        and (only is None or fnmatch.fnmatch(r.spec.run_id, only) or only in r.spec.run_id)
    }
    # What the chosen runs depend on (calibration, reference runs) comes along.
    by_id = {r.spec.run_id: r for r in full.runs}
    stack = list(chosen)
    while stack:
        for dep in by_id[stack.pop()].spec.depends_on:
            if dep not in chosen:
                chosen.add(dep)
                stack.append(dep)
    kept = tuple(r for r in full.runs if r.spec.run_id in chosen)
    return Plan(full.manifest, full.round, full.division, full.submitter, full.profile, full.submittable, kept)
