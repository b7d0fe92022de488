"""Is the machine what the manifest says? The runner's probe against the declared system.

A CI job that lands on the wrong runner (another GPU, fewer of them, none at all) would
otherwise produce records described with the declared hardware. `apply` compares before
any container starts; `apply --accept-probe` records the probed values instead, and the
system description then takes them over the manifest's (`ACCEPTED_KEY` in the probe).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlperf_ops.manifest.model import SystemSpec

# In a recorded probe: the comma-separated system-description keys whose probed value
# `apply --accept-probe` accepted over the manifest's.
ACCEPTED_KEY = "accepted_over_manifest"

# Words that name a vendor or a product line, not the part: "NVIDIA H100-SXM-80GB" and
# nvidia-smi's "NVIDIA H100 80GB HBM3" are the same GPU.
_NOISE = frozenset({"nvidia", "amd", "intel", "r", "tm", "tesla", "geforce", "radeon", "instinct", "cpu",
                    "processor", "xeon", "epyc", "core", "ryzen"})


@dataclass(frozen=True)
class Mismatch:
    field: str  # what differs, as a user reads it
    key: str  # the systems/<id>.json key the probed value replaces under --accept-probe
    declared: str
    probed: str


def _tokens(name: str) -> list[str]:
    text = re.sub(r"@.*$", "", name.lower())  # "... CPU @ 2.10GHz": the clock is not the model
    return [t for t in re.findall(r"[a-z0-9]+", text) if t not in _NOISE]


def same_model(declared: str, probed: str) -> bool:
    """Whether two spellings name the same part: their model numbers (tokens with a digit) agree.

    Marketing names differ between a manifest, nvidia-smi and /proc/cpuinfo, so exact text
    would stop every honest run; the model number (H100, L4, MI300X, 8480) is what matters.
    """
    mine, theirs = _tokens(declared), _tokens(probed)
    numbered = [t for t in mine if any(c.isdigit() for c in t)]
    if not numbered:
        return bool(mine) and set(mine) <= set(theirs)
    return numbered[0] in theirs


def probed_vendor(probe: Mapping[str, str]) -> str | None:
    vendor = probe.get("accelerator_vendor")
    if vendor:
        return vendor
    name = probe.get("accelerator_model_name", "").lower()
    for known in ("nvidia", "amd"):
        if known in name:
            return known
    return "other" if name else None


def mismatches(system: SystemSpec, probe: Mapping[str, str]) -> list[Mismatch]:
    """What the probe contradicts in the declared system (nothing when the probe cannot tell)."""
    acc = system.accelerator
    out: list[Mismatch] = []
    if acc is not None:
        count = int(probe.get("accelerators_per_node") or 0)
        model = probe.get("accelerator_model_name", "")
        if acc.vendor == "other":
            return []  # the probe knows only nvidia-smi and rocm-smi: it cannot see this one
        if count == 0 or not model:
            return [Mismatch("accelerator", "accelerators_per_node", f"{acc.count}x {acc.model} ({acc.vendor})",
                             "no accelerator")]
        vendor = probed_vendor(probe)
        if vendor and vendor != acc.vendor:
            out.append(Mismatch("accelerator vendor", "accelerator_vendor", acc.vendor, vendor))
        if not same_model(acc.model, model):
            out.append(Mismatch("accelerator model", "accelerator_model_name", acc.model, model))
        # device_ids pick some of the machine's accelerators: it must have at least that many.
        if count < acc.count or (count != acc.count and not acc.device_ids):
            out.append(Mismatch("accelerator count", "accelerators_per_node", str(acc.count), str(count)))
        return out
    # No accelerator: the CPU is the system, as far as the manifest describes it.
    declared = system.description_dict()
    cpu = str(declared.get("host_processor_model_name") or "")
    if cpu and probe.get("host_processor_model_name") and not same_model(cpu, probe["host_processor_model_name"]):
        out.append(Mismatch("CPU model", "host_processor_model_name", cpu, probe["host_processor_model_name"]))
    sockets = str(declared.get("host_processors_per_node") or "")
    if sockets and probe.get("host_processors_per_node") and sockets.strip() != probe["host_processors_per_node"]:
        out.append(Mismatch("CPU count", "host_processors_per_node", sockets, probe["host_processors_per_node"]))
    return out


def accepted(probe: Mapping[str, str]) -> set[str]:
    return {k for k in probe.get(ACCEPTED_KEY, "").split(",") if k}


def accept(probe: Mapping[str, str], found: list[Mismatch]) -> dict[str, str]:
    """The probe to record under --accept-probe: it says which keys win over the manifest."""
    keys = sorted(accepted(probe) | {m.key for m in found})
    if any(m.key == "accelerators_per_node" and m.probed == "no accelerator" for m in found):
        # No accelerator at all: the description becomes a CPU system's (count "0", N/A fields).
        keys = sorted(set(keys) | {"accelerator_model_name", "accelerator_memory_capacity"})
    return {**probe, ACCEPTED_KEY: ",".join(keys)}


def still_accepted(previous: Mapping[str, str] | None, probe: Mapping[str, str], found: list[Mismatch]) -> bool:
    """A resumed apply on the machine whose values were accepted before need not be told again."""
    if previous is None or not found:
        return False
    keys = accepted(previous)
    return all(m.key in keys for m in found) and all(
        previous.get(k) == probe.get(k) for k in ("accelerator_model_name", "accelerators_per_node",
                                                  "host_processor_model_name", "host_processors_per_node"))


def describe(system_id: str, found: list[Mismatch]) -> str:
    lines = [f"{system_id}: this machine is not the declared system"]
    lines += [f"  {m.field}: the manifest declares {m.declared}; the probe found {m.probed}" for m in found]
    return "\n".join(lines)


def checked_probes(systems: list[SystemSpec], probe: Mapping[str, str], previous: Mapping[str, Mapping[str, str]],
                   *, accept_probe: bool) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The probe to record per system, and a note per system whose probed values were accepted.

    Raises `UsageError` (exit 2) naming every mismatch of every system unless `accept_probe`.
    """
    from mlperf_ops.core.errors import UsageError

    out: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    refused: list[str] = []
    for system in systems:
        found = mismatches(system, probe)
        before = previous.get(system.id)
        if not found:
            out[system.id] = dict(probe)
        elif accept_probe or still_accepted(before, probe, found):
            out[system.id] = accept(probe, found)
            notes.append(describe(system.id, found) + "\n  recorded: the probed values (--accept-probe)")
        else:
            refused.append(describe(system.id, found))
    if refused:
        raise UsageError("\n".join(refused),
                         hint="run it on the declared machine, correct the manifest, or record what the probe "
                              "found with `apply --accept-probe`")
    return out, notes
