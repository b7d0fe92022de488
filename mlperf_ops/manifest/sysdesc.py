"""System descriptions (`systems/<system>.json`): merge what was probed with what was declared.

`build_system_json()` merges the host probe (`probe.probe_host`) and what the images
contain (`software_facts`) with what a human declared in the manifest, and avoids the
type traps of the official checker (README, "Troubleshooting"). Its rules live in
`check.system_json`, the one validation used by the checker and by manifest validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlperf_ops.rules import Rules, available_rounds, load_rules

# Accelerator fields a CPU-only system cannot describe; "N/A" is what accepted
# submissions write there (an empty value fails the non-empty rule).
_ACCELERATOR_KEYS = (
    "accelerator_model_name",
    "accelerator_memory_capacity",
    "accelerator_frequency",
    "accelerator_host_interconnect",
    "accelerator_interconnect",
    "accelerator_interconnect_topology",
    "accelerator_memory_configuration",
    "accelerator_on-chip_memories",
)
_NOT_APPLICABLE = "N/A"


# Distributions that count as the `framework` of a system, most specific first; the
# first one an image pins names it. Anything else is still listed in other_software_stack
# when it is LoadGen.
FRAMEWORK_DISTRIBUTIONS = (
    "tensorrt-llm", "vllm", "sglang", "onnxruntime-gpu", "onnxruntime-rocm", "onnxruntime-openvino",
    "onnxruntime", "tensorrt", "openvino", "torch", "tensorflow", "jax",
)
SOFTWARE_KEYS = ("python", "framework", "framework_versions")


def software_facts(stacks: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, str]:
    """What the images a system runs in contain: (Python X.Y, {distribution: version}) each.

    The keys match what `build_system_json` reads from a probe; a system whose images pin
    no known framework gets no `framework` (the manifest must then declare it).
    """
    pythons: list[str] = []
    frameworks: list[str] = []
    loadgen: list[str] = []
    for python, pins in stacks:
        if python and python not in pythons:
            pythons.append(python)
        for dist in FRAMEWORK_DISTRIBUTIONS:
            if dist in pins and f"{dist} {pins[dist]}" not in frameworks:
                frameworks.append(f"{dist} {pins[dist]}")
                break
        if "mlcommons-loadgen" in pins and f"mlcommons-loadgen {pins['mlcommons-loadgen']}" not in loadgen:
            loadgen.append(f"mlcommons-loadgen {pins['mlcommons-loadgen']}")
    out: dict[str, str] = {}
    if pythons:
        out["python"] = ", ".join(pythons)
    if frameworks:
        out["framework"] = ", ".join(frameworks)
    if frameworks or loadgen:
        out["framework_versions"] = ", ".join(frameworks + loadgen)
    return out


# --------------------------------------------------------------------------- building


def _newest_rules() -> Rules:
    return load_rules(available_rounds()[-1])


def _as_text(value: Any) -> Any:
    """The checker reads most values as strings; keep bools/ints out of the JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def build_system_json(
    probed: dict[str, str],
    declared: dict[str, Any],
    *,
    division: str,
    submitter: str,
    status: str,
    system_type: str,
    system_name: str,
    accelerator_model: str | None,
    accelerator_count: int,
    accelerator_memory: str | None,
    rules: Rules | None = None,
) -> dict[str, Any]:
    """The `systems/<system>.json` document: probe < derived < declared < identity."""
    rules = rules or _newest_rules()
    sd = rules.system_description
    keys: tuple[str, ...] = sd.required_keys if sd else ()
    doc: dict[str, Any] = {k: "" for k in keys}
    for key, value in probed.items():
        if key in doc:
            doc[key] = value
    # Probe-only facts folded into the keys the checker knows.
    if probed.get("kernel") and doc.get("operating_system"):
        doc["operating_system"] = f"{doc['operating_system']} (kernel {probed['kernel']})"
    stack = [f"Python {probed['python']}"] if probed.get("python") else []
    if probed.get("framework_versions"):
        stack.append(probed["framework_versions"])
    # The LLM servers apply started as sidecars, as they identified themselves (mlperf_ops/run/sidecar.py).
    stack.extend(f"{key.split(':', 1)[1]}: {value}" for key, value in sorted(probed.items())
                 if key.startswith("llm_server:"))
    if stack and "other_software_stack" in doc:
        doc["other_software_stack"] = ", ".join(stack)
    doc["number_of_nodes"] = "1"

    if accelerator_count > 0:
        doc["accelerators_per_node"] = str(accelerator_count)
        if accelerator_model:
            doc["accelerator_model_name"] = accelerator_model
        if accelerator_memory:
            doc["accelerator_memory_capacity"] = accelerator_memory
    else:
        # A CPU system: "0" as a string (integer 0 counts as empty) and N/A fields.
        doc["accelerators_per_node"] = "0"
        for key in _ACCELERATOR_KEYS:
            if key in doc or not keys:
                doc[key] = _NOT_APPLICABLE

    for key, value in declared.items():
        doc[key] = _as_text(value)

    for key in (sd.integer_keys if sd else ()):
        number = doc.get(key)
        if isinstance(number, str) and number.strip().lstrip("-").isdigit():
            doc[key] = str(int(number.strip()))
    doc.update(
        division=division,
        submitter=submitter,
        status=status.strip().lower(),
        system_type=",".join(p.strip() for p in system_type.lower().split(",")),
        system_name=system_name,
    )
    flag = sd.network_flag_key if sd else "is_network"
    if division == "network":
        doc[flag] = "true"
    else:
        doc.pop(flag, None)
    return doc
