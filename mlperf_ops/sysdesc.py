"""System descriptions (`systems/<system>.json`): probe the host, merge, validate.

`probe_host()` reads what the machine can tell about itself without root;
`build_system_json()` merges it with what a human declared in the manifest and
avoids the type traps of the official checker (README, "Troubleshooting");
`system_json_findings()` is the one validation used both by the checker and by
manifest validation before any run starts.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Any

from mlperf_ops.check.findings import Finding, finding
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


# --------------------------------------------------------------------------- probing


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _run(argv: list[str], timeout: float = 10.0) -> str:
    """Output of a helper program, or "" when it is absent or fails (never raises)."""
    if shutil.which(argv[0]) is None:
        return ""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _probe_cpu(out: dict[str, str]) -> None:
    text = _read("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", text, re.M)
    if models:
        out["host_processor_model_name"] = models[0].strip()
    sockets = set(re.findall(r"^physical id\s*:\s*(\d+)$", text, re.M))
    lscpu = _run(["lscpu"])
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lscpu.splitlines())
    )
    if not out.get("host_processor_model_name") and fields.get("Model name"):
        out["host_processor_model_name"] = fields["Model name"]
    n_sockets = len(sockets) or int(fields.get("Socket(s)", "0") or 0)
    if n_sockets:
        out["host_processors_per_node"] = str(n_sockets)
    cores_per_socket = fields.get("Core(s) per socket")
    if cores_per_socket and cores_per_socket.isdigit():
        out["host_processor_core_count"] = str(int(cores_per_socket))
    else:
        core_ids = set(re.findall(r"^core id\s*:\s*(\d+)$", text, re.M))
        count = len(core_ids) or (os.cpu_count() or 0)
        if count:
            out["host_processor_core_count"] = str(count)
    mhz = fields.get("CPU max MHz") or next(iter(re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)), "")
    if mhz:
        out["host_processor_frequency"] = f"{float(mhz):.0f} MHz"
    caches = [f"{k.split()[0]} {fields[k]}" for k in ("L1d cache", "L1i cache", "L2 cache", "L3 cache") if fields.get(k)]
    if caches:
        out["host_processor_caches"] = ", ".join(caches)
    else:
        size = re.findall(r"^cache size\s*:\s*(.+)$", text, re.M)
        if size:
            out["host_processor_caches"] = size[0].strip()


def _probe_memory_storage(out: dict[str, str]) -> None:
    mem = re.search(r"^MemTotal:\s*(\d+)\s*kB", _read("/proc/meminfo"), re.M)
    if mem:
        out["host_memory_capacity"] = _human_bytes(int(mem.group(1)) * 1024)
    try:
        st = os.statvfs("/")
        out["host_storage_capacity"] = _human_bytes(st.f_blocks * st.f_frsize)
    except OSError:
        pass
    rotational = [_read(str(p)).strip() for p in Path("/sys/block").glob("*/queue/rotational")]
    if rotational:
        out["host_storage_type"] = "HDD" if all(r == "1" for r in rotational if r) else "SSD"


def _probe_software(out: dict[str, str]) -> None:
    # Only what the host contributes: the benchmark's Python and frameworks live in the
    # image (see `software_facts`), not in the controller's environment.
    release = dict(
        (k, v.strip().strip('"'))
        for k, _, v in (line.partition("=") for line in _read("/etc/os-release").splitlines())
        if k
    )
    os_name = release.get("PRETTY_NAME") or platform.system()
    if os_name:
        out["operating_system"] = os_name
    out["kernel"] = platform.release()


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


def _probe_accelerators(out: dict[str, str]) -> None:
    nvidia = _run(
        ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"]
    ).strip()
    if nvidia:
        rows = [r.split(",") for r in nvidia.splitlines() if r.strip()]
        out["accelerator_vendor"] = "nvidia"  # compared with the manifest (probe_check)
        out["accelerator_model_name"] = rows[0][0].strip()
        out["accelerators_per_node"] = str(len(rows))
        if len(rows[0]) > 1:
            out["accelerator_memory_capacity"] = rows[0][1].strip()
        return
    rocm = _run(["rocm-smi", "--showproductname"])
    names = re.findall(r"Card (?:series|SKU|model)\s*:\s*(.+)", rocm)
    if names:
        out["accelerator_vendor"] = "amd"
        out["accelerator_model_name"] = names[0].strip()
        out["accelerators_per_node"] = str(len(set(re.findall(r"GPU\[(\d+)\]", rocm))) or 1)


def probe_host() -> dict[str, str]:
    """What this machine tells about itself. Missing facts are simply absent keys."""
    out: dict[str, str] = {}
    for step in (_probe_cpu, _probe_memory_storage, _probe_software, _probe_accelerators):
        try:
            step(out)
        except Exception:  # a probe must never stop a run; the manifest fills gaps
            continue
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
    # The LLM servers apply started as sidecars, as they identified themselves (mlperf_ops/sidecar.py).
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


# --------------------------------------------------------------------------- validation


def _truthy_flag(value: Any) -> bool:
    return bool(value)


def system_json_findings(
    doc: Any, rules: Rules, *, division: str, submitter: str, path: str = ""
) -> list[Finding]:
    """Everything wrong with one system description, as findings at `path`."""
    return [f for _, f in keyed_system_json_findings(doc, rules, division=division, submitter=submitter, path=path)]


def keyed_system_json_findings(
    doc: Any, rules: Rules, *, division: str, submitter: str, path: str = ""
) -> list[tuple[str | None, Finding]]:
    """`system_json_findings`, each paired with the JSON key it is about (None: the whole document).

    Manifest validation needs the key to point at the manifest line that declares it.
    """
    out: list[tuple[str | None, Finding]] = []
    if not isinstance(doc, dict):
        return [(None, finding("system.bad-json", path, "the system description must be a JSON object"))]
    sd = rules.system_description
    if sd is None:
        return [(None, finding("system.not-checked", path, f"no system-description rules for {rules.round}"))]

    flag_value = doc.get(sd.network_flag_key)
    required = list(sd.required_keys)
    if _truthy_flag(flag_value):
        required += [k for k in sd.network_required_keys if k not in required]
    for key in required:
        if key not in doc:
            out.append((key, finding("system.missing-key", path, f"key {key!r} is missing")))
        elif key in sd.non_empty_keys and not doc[key]:
            hint = ""
            if doc[key] == 0:
                hint = ' (the integer 0 counts as empty: write "0" as a string)'
            out.append((key, finding("system.empty-key", path, f"key {key!r} needs a meaningful value{hint}")))
    for key, value in doc.items():
        if isinstance(value, (dict, list)):
            out.append((key, finding("system.bad-value-type", path, f"key {key!r} holds a {type(value).__name__}")))

    for key in ("division", "submitter", "status", "system_type", sd.network_flag_key):
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            out.append((key, finding(
                "system.bad-value-type", path, f"key {key!r} must be a string, not {type(value).__name__} ({value!r})"
            )))

    status = doc.get("status")
    if isinstance(status, str) and status and status.lower() not in sd.status_values:
        out.append(("status", finding(
            "system.bad-status", path, f"status {status!r} is not one of {', '.join(sd.status_values)}"
        )))
    system_type = doc.get("system_type")
    if isinstance(system_type, str) and system_type and system_type not in sd.system_type_values:
        out.append(("system_type", finding(
            "system.bad-type", path,
            f"system_type {system_type!r} must be exactly one of {', '.join(sd.system_type_values)}",
        )))
    for key in sd.integer_keys:
        value = doc.get(key)
        if value in (None, "") or isinstance(value, bool):
            continue
        try:
            int(str(value).strip())
        except ValueError:
            out.append((key, finding("system.not-integer", path, f"key {key!r} = {value!r} is not an integer")))

    doc_division = doc.get("division")
    if isinstance(doc_division, str) and doc_division and doc_division.lower() != division.lower():
        out.append(("division", finding(
            "system.division-mismatch", path, f"division {doc_division!r} but the directory is {division!r}"
        )))
    doc_submitter = doc.get("submitter")
    if isinstance(doc_submitter, str) and doc_submitter and doc_submitter.lower() != submitter.lower():
        out.append(("submitter", finding(
            "system.submitter-mismatch", path, f"submitter {doc_submitter!r} but the directory is {submitter!r}"
        )))

    is_network = isinstance(flag_value, str) and flag_value.lower() == "true"
    if division == "network" and not is_network:
        out.append((sd.network_flag_key, finding(
            "system.network-flag", path, f'the network division needs {sd.network_flag_key}: "true"'
        )))
    elif division != "network" and _truthy_flag(flag_value):
        out.append((sd.network_flag_key, finding(
            "system.network-flag", path,
            f"{sd.network_flag_key}={flag_value!r} outside the network division: leave the key out",
        )))
    return out
