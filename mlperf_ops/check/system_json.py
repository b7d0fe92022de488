"""The rules a system description (`systems/<system>.json`) must keep.

One validation, used both by the checker on a tree and by manifest validation before
any run starts (there with the JSON key of each finding, to point at the manifest line
that declares it).
"""

from __future__ import annotations

from typing import Any

from mlperf_ops.check.findings import Finding, finding
from mlperf_ops.rules import Rules


def _truthy_flag(value: Any) -> bool:
    """Whether the network-mode keys are required: the official checker asks for them when
    the flag holds anything at all (even "false"), and runs in network mode only on "true"."""
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
            # Published system descriptions hold some (other_software_stack as an object) and
            # the official checker accepts them: hygiene, not a refusal
            out.append((key, finding("system.nested-value", path, f"key {key!r} holds a {type(value).__name__}")))

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
            int(value)  # as the official results table converts it: 1.0 and " 2 " are integers, "1.0" is not
        except (ValueError, TypeError, OverflowError):
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
    elif division != "network" and is_network:  # "false" (any other value) is no network mode, as officially
        out.append((sd.network_flag_key, finding(
            "system.network-flag", path,
            f"{sd.network_flag_key}={flag_value!r} outside the network division: leave the key out",
        )))
    return out
