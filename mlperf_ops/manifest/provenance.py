"""Where each field of `systems/<id>.json` comes from: the probe, the manifest, the image, or a default.

`describe` shows it so a reviewer sees which values a machine reported and which a human
typed (issue 12): a GPU model that came from the manifest is a claim, one from the probe
is an observation. Computed by difference against the document built without a probe, so
it cannot drift from `system_document`'s precedence rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlperf_ops.manifest.documents import system_document
from mlperf_ops.manifest.model import Manifest, SystemSpec
from mlperf_ops.manifest.probe_check import accepted
from mlperf_ops.rules import Rules

PROBE = "probe"
ACCEPTED = "probe (apply --accept-probe, over the manifest)"
MANIFEST = "manifest"
IMAGE = "image"
DEFAULT = "default"
MISSING = "empty"

_IDENTITY = ("division", "submitter", "status", "system_type", "system_name")
_ACCELERATOR_BLOCK = ("accelerator_model_name", "accelerators_per_node", "accelerator_memory_capacity")
_IMAGE_KEYS = ("framework", "other_software_stack")


def field_sources(manifest: Manifest, system: SystemSpec, rules: Rules, images_dir: Path,
                  probed: Mapping[str, str]) -> dict[str, str]:
    """Each key of the system's document -> one of PROBE, ACCEPTED, MANIFEST, IMAGE, DEFAULT, MISSING."""
    full = system_document(manifest, system, rules, images_dir, probed)
    bare = system_document(manifest, system, rules, images_dir, {})
    taken = accepted(probed)
    if taken & {"accelerator_vendor", "accelerator_model_name", "accelerators_per_node"}:
        taken |= set(_ACCELERATOR_BLOCK)
    declared = set(system.description_dict()) | set(_IDENTITY)
    if system.accelerator is not None:
        declared |= set(_ACCELERATOR_BLOCK)
    out: dict[str, str] = {}
    for key, value in full.items():
        if key in taken:
            out[key] = ACCEPTED
        elif key in declared:
            out[key] = MANIFEST
        elif value != bare.get(key):
            out[key] = PROBE
        elif key in _IMAGE_KEYS and value:
            out[key] = IMAGE
        else:
            out[key] = DEFAULT if value else MISSING
    return out


def render_sources(system_id: str, sources: Mapping[str, str]) -> list[str]:
    """One line per source, naming its keys: what `describe` prints after the document."""
    lines = [f"{system_id}: where each field comes from"]
    for source in (PROBE, ACCEPTED, MANIFEST, IMAGE, DEFAULT, MISSING):
        keys = sorted(k for k, s in sources.items() if s == source)
        if keys:
            lines.append(f"  {source}: {', '.join(keys)}")
    return lines
