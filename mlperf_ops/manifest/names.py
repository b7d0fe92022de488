"""Names that become folder and file names in the submission tree.

System ids, benchmark names and the submitter name each become a directory
(`closed/<submitter>/results/<system>/<benchmark>/`), and the tree is unpacked on
Windows and macOS as well as Linux. The schema's pattern keeps them to letters, digits
and `_.-`; what it cannot say is checked here: Windows device names, a trailing dot
(dropped by Windows), and — through `case_key` — names that differ only in case, which
are one folder on a case-insensitive file system.
"""

from __future__ import annotations

# Names Windows reserves for devices, with or without an extension (CON, con.txt, …).
_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
MAX_LENGTH = 64


def path_name_problem(name: str) -> str | None:
    """Why `name` is not safe as a folder name on every file system, or None."""
    if name in (".", ".."):
        return f"{name!r} is not a folder name"
    if len(name) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    if name.endswith((".", " ")):
        return "ends with a dot or space, which Windows drops from folder names"
    if name.split(".", 1)[0].casefold() in _DEVICES:
        return f"{name!r} is a reserved device name on Windows"
    return None


def case_key(name: str) -> str:
    """Two names with the same key are one folder on a case-insensitive file system."""
    return name.casefold()
