"""The one secret detector: manifests, pipeline profiles, image specs, logs, records, trees.

Two signals: a value holding a known token format *anywhere* in it (a token pasted into
a sentence of `sw_notes` is as public as one on its own), and a key named like a
credential (`hf_token`, `db_password`, `client_secret`, …) holding anything at all.
A finding carries where it is and what kind of secret it looks like — never the value,
so reporting a leak cannot leak it again.

The patterns are the documented prefixes and shapes of each issuer's tokens. Each one
starts only where a token can start (not inside a longer word), so a megabyte of
look-alike text is scanned in linear time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from mlperf_ops.core.errors import Problem
from mlperf_ops.core.positions import position
from mlperf_ops.core.shorten import shorten

if TYPE_CHECKING:  # the YAML package costs ~40 ms to import: `check` scans logs, never YAML
    from mlperf_ops.yamlfile.source import PathKey, SourceDoc

_B = r"(?<![A-Za-z0-9_])"  # a token starts at a word boundary, never mid-word
_E = r"(?![A-Za-z0-9_])"

TOKEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), what) for pattern, what in (
        (_B + r"gh[pousr]_[A-Za-z0-9]{30,255}" + _E, "a GitHub token"),
        (_B + r"github_pat_[A-Za-z0-9_]{40,255}", "a GitHub fine-grained token"),
        (r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,255}", "a GitLab token"),
        (r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Z0-9])", "an AWS access key id"),
        (r"(?i:aws_?secret_?access_?key)[\"']?\s{0,16}[:=]\s{0,16}[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
         "an AWS secret access key"),
        (_B + r"AIza[0-9A-Za-z_-]{35}" + _E, "a Google API key"),
        (_B + r"hf_[A-Za-z0-9]{30,255}" + _E, "a Hugging Face token"),
        (r"(?<![A-Za-z0-9_-])xox[abeoprs]-[A-Za-z0-9-]{10,255}", "a Slack token"),
        (r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,255}", "a Slack webhook URL"),
        (_B + r"npm_[A-Za-z0-9]{36}" + _E, "an npm token"),
        (_B + r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}", "a PyPI token"),
        (_B + r"mlc_[A-Za-z0-9_-]{16,255}", "an MLCommons API key"),
        (r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----", "a private key"),
        (r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,4096}", "a JWT"),
        (r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s/:@\"']{1,256}:[^\s/@\"']{1,256}@",
         "a URL with a password"),
    )
)

# A whole value shaped like a UUID: the portal's submitter id is one. Not searched inside
# longer text — GPU UUIDs (GPU-xxxxxxxx-…) and run ids would be false alarms.
UUID_VALUE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

# Key names: the last word decides (`hf_token`, `client_secret`, `db_password`), so
# `eos_token_id`, `token_dtype` and `use_token_latencies` — token *ids*, not secrets — pass.
_CREDENTIAL_KEY = re.compile(
    r"(?:^|[_.-])(?:token|secret|password|passwd|pwd|passphrase|credentials?|api[_-]?key|apikey|"
    r"private[_-]?key|access[_-]?key|secret[_-]?key|auth|bearer|cookie|session[_-]?key)$"
    r"|secret|password|submitter[_-]?id",
    re.I,
)

HINT = "remove it; pass secrets through environment variables or CI secrets (e.g. MLPERF_SUBMITTER_ID)"


@dataclass(frozen=True)
class Leak:
    """A secret-looking span of some text: where it is and what it looks like (no value)."""

    what: str
    line: int
    col: int
    start: int  # character offset in the text
    end: int


def credential_key(name: object) -> bool:
    """Whether a key's name says its value is a credential."""
    return isinstance(name, str) and bool(_CREDENTIAL_KEY.search(name))


# The literal text each pattern above cannot match without, in the same order. `check`
# scans every file of a tree (thousands of LoadGen logs), and a pattern that opens with a
# look-behind or a character class is tried at every position of a file: testing for its
# literal first (`in`, a C substring search) skips the regex where it cannot match, which
# made check on a 200-result tree ~15x faster without changing any finding.
_AWS_CASES = tuple(a + w + s for a in "aA" for w in "wW" for s in "sS\u017f")  # (?i) folds ſ to s
TOKEN_NEEDLES: tuple[tuple[str, ...], ...] = (
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ("github_pat_",),
    ("glpat-",),
    ("AKIA", "ASIA", "ABIA", "ACCA"),
    _AWS_CASES,
    ("AIza",),
    ("hf_",),
    tuple(f"xox{c}-" for c in "abeoprs"),
    ("https://hooks.slack.com/services/",),
    ("npm_",),
    ("pypi-AgEIcHlwaS5vcmc",),
    ("mlc_",),
    ("-----BEGIN ",),
    ("eyJ",),
    ("://",),
)
assert len(TOKEN_NEEDLES) == len(TOKEN_PATTERNS)
# All the literals in one alternation: one pass that finds none of them is about twice as
# fast as a substring search per literal on short text (scan_text). It only says "none":
# its matches do not overlap, so one literal can hide another that starts inside it.
_ANY_NEEDLE = re.compile("|".join(re.escape(n) for n in sorted({n for ns in TOKEN_NEEDLES for n in ns})))

# Files (scan_file) get a faster test on their raw bytes. An alternation of literals that
# start with different bytes is tried at every position (~14 ns a byte: 1.7 s of `check`
# on a 200-result tree); a pattern that starts with one literal prefix is a C substring
# search (~0.35 ns a byte). So the literals go in groups that share a prefix (the parser
# factors it out of an alternation), one pass each. Each group is a set of literals; the
# invariant asserted below is what makes "no group matches" prove "no pattern can match":
# every literal of TOKEN_NEEDLES contains a literal of some group (the Slack webhook URL
# holds "://"). UTF-8 bytes: an ASCII literal is in the bytes exactly when it is in their
# decoded text, and "ſ" only as its one UTF-8 sequence, which always decodes back to it.
_S = ("S", "s", "\u017f")  # (?i) folds ſ to s
_PREFILTER_GROUPS: tuple[tuple[str, ...], ...] = (
    ("-----BEGIN ",),
    ("://",),
    ("ABIA", "ACCA", "AIza", "AKIA", "ASIA", *(f"A{w}{s}" for w in "Ww" for s in _S)),
    tuple(f"aw{s}" for s in _S),
    tuple(f"aW{s}" for s in _S),
    ("eyJ",),
    tuple(f"gh{c}_" for c in "pousr"),
    ("github_pat_",),
    ("glpat-",),
    ("hf_",),
    ("mlc_",),
    ("npm_",),
    ("pypi-AgEIcHlwaS5vcmc",),
    tuple(f"xox{c}-" for c in "abeoprs"),
)
assert all(any(lit in needle for group in _PREFILTER_GROUPS for lit in group)
           for needles in TOKEN_NEEDLES for needle in needles)
# Long files (an accuracy run's detail log: ~0.5 MB, two thirds of it sample indices) are
# tested with their digits and commas deleted first (~1 ns a byte, a third of the bytes
# left). Deleting characters keeps every literal's occurrence, as that literal with the
# same characters deleted: the groups are tested in that form too (only "pypi-…S5…" changes).
_DELETED = b"0123456789,"
_DELETE_FROM = 64 * 1024


def _group_patterns(delete: bytes) -> tuple[re.Pattern[bytes], ...]:
    return tuple(
        re.compile(b"|".join(re.escape(lit.encode().translate(None, delete)) for lit in group))
        for group in _PREFILTER_GROUPS
    )


_PREFILTER = _group_patterns(b"")
_PREFILTER_DELETED = _group_patterns(_DELETED)


def may_hold_secret(data: bytes) -> bool:
    """False only when no token pattern can match the text these bytes decode to."""
    if len(data) >= _DELETE_FROM:
        data = data.translate(None, _DELETED)
        return any(p.search(data) is not None for p in _PREFILTER_DELETED)
    return any(p.search(data) is not None for p in _PREFILTER)


def scan_text(text: str) -> list[Leak]:
    """Every known token format in `text`, in order, with 1-based line and column."""
    leaks: list[Leak] = []
    if _ANY_NEEDLE.search(text) is None:
        return leaks
    for (pattern, what), needles in zip(TOKEN_PATTERNS, TOKEN_NEEDLES):
        if not any(needle in text for needle in needles):
            continue
        for match in pattern.finditer(text):
            line, col = position(text, match.start())
            leaks.append(Leak(what, line, col, match.start(), match.end()))
    return sorted(leaks, key=lambda leak: leak.start)


def scan_value(value: str) -> list[Leak]:
    """`scan_text`, plus the whole-value shapes (a UUID standing alone)."""
    leaks = scan_text(value)
    if UUID_VALUE.fullmatch(value.strip()):
        leaks.append(Leak("a UUID-shaped id (the portal's submitter id is one)", 1, 1, 0, len(value)))
    return leaks


def scan_file(path: Path | str, limit: int = 64 * 1024 * 1024) -> list[Leak]:
    """Leaks in a text file (a log, a record); binary bytes are read as replacement characters."""
    with open(path, "rb") as handle:
        # read(limit) first allocates `limit` bytes (64 MiB, a fresh mapping every file);
        # the file's size is what it needs, and a file that grew since is read on to limit
        size = min(os.fstat(handle.fileno()).st_size, limit)
        data = handle.read(size)
        if len(data) == size < limit:
            data += handle.read(limit - size)
    if not may_hold_secret(data):
        return []
    return scan_text(data.decode("utf-8", errors="replace"))


def scan_tree(root: Path) -> Iterator[tuple[Path, Leak]]:
    """Leaks in every file under `root` (a submission tree before it is packed)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        for leak in scan_file(path):
            yield path.relative_to(root), leak


class _Locator:
    """Finds a token's own line and column in the file, starting from its value's line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def find(self, fragment: str, line: int, fallback: tuple[int, int]) -> tuple[int, int]:
        if not self.text or not fragment or line > len(self.line_starts):
            return fallback
        index = self.text.find(fragment, self.line_starts[line - 1])
        return position(self.text, index) if index >= 0 else fallback


def document_problems(doc: SourceDoc) -> list[Problem]:
    """Secrets anywhere in a parsed YAML file: credential-named keys and token-shaped values."""
    from mlperf_ops.yamlfile.source import render_path

    problems: list[Problem] = []
    seen: set[tuple[int, int, str]] = set()
    locator = _Locator(doc.text)

    def add(where: tuple[int, int], path: PathKey, message: str, hint: str) -> None:
        if (where[0], where[1], message) not in seen:  # an aliased value is reported once
            seen.add((where[0], where[1], message))
            problems.append(Problem(doc.file, where[0], where[1], render_path(path), message, hint))

    def scan(text: str, path: PathKey, where: tuple[int, int]) -> None:
        for leak in scan_value(text):
            fragment = text[leak.start:leak.end][:40]
            add(locator.find(fragment, where[0], where), path, f"value looks like {leak.what}", HINT)

    # Iterative: the composer bounds depth, but a walk should not depend on that.
    stack: list[tuple[PathKey, Any]] = [((), doc.data)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                child_path = (*path, str(key))
                if credential_key(key) and child not in (None, "", False):
                    add(doc.where(child_path, key=True), child_path,
                        f"key {shorten(str(key))} looks like it holds a secret",
                        "secrets come from the environment (e.g. MLPERF_SUBMITTER_ID), never a file in the repository")
                    continue  # one finding per secret: its value is not scanned again
                scan(str(key), child_path, doc.where(child_path, key=True))
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend(((*path, i), child) for i, child in reversed(list(enumerate(item))))
        elif isinstance(item, str):
            scan(item, path, doc.where(path))
    return problems
