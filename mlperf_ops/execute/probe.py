"""What this machine tells about itself without root: CPU, memory, storage, OS, accelerators.

An edge like the engine: it runs `nvidia-smi`/`rocm-smi` and reads /proc and /etc. The
facts feed the system description (`sysdesc.build_system_json`) and the check that the
machine is the one the manifest declares (`probe_check`).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path


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
