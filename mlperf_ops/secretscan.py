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
from functools import cache, partial
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from msgspec import Struct

from mlperf_ops.core.tree_files import read_to_end
from mlperf_ops.core.walk import entries_under
from mlperf_ops.core.errors import Problem
from mlperf_ops.core.positions import position
from mlperf_ops.core.shorten import shorten

if TYPE_CHECKING:  # the YAML package costs ~40 ms to import: `check` scans logs, never YAML
    from mlperf_ops.yamlfile.source import PathKey, SourceDoc

_B = r"(?<![A-Za-z0-9_])"  # a token starts at a word boundary, never mid-word
_E = r"(?![A-Za-z0-9_])"

# A URL's password for a host that can never be anyone's (RFC 2606: example.com/.net/.org
# and the .example, .test and .invalid names) is documentation, not a credential: one
# published tree's dataset holds "ftp://username:password@ftp.example.com/…". Any other
# host, an intranet one included (.internal, a bare name), still counts.
_NOT_A_RESERVED_HOST = (r"(?!(?i:(?:[a-z0-9-]{1,63}\.){0,8}example\.(?:com|net|org)"
                        r"|(?:[a-z0-9-]{1,63}\.){1,8}(?:example|test|invalid))(?![a-z0-9.-]))")
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
        (r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s/:@\"']{1,256}:[^\s/@\"']{1,256}@"
         + _NOT_A_RESERVED_HOST, "a URL with a password"),
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


class Leak(Struct, frozen=True):
    """A secret-looking span of some text: where it is and what it looks like (no value)."""

    what: str
    line: int
    col: int
    start: int  # character offset in the text
    end: int


def credential_key(name: object) -> bool:
    """Whether a key's name says its value is a credential."""
    return isinstance(name, str) and bool(_CREDENTIAL_KEY.search(name))


# The literal text each pattern above cannot match without, in the same order (its
# "needles"). `check` scans every file of a tree (thousands of LoadGen logs), and a pattern
# that opens with a look-behind or a character class is tried by `re` at every position of
# a file: a pattern is tried only where one of its needles lets a match start.
# The AWS secret key's phrase is matched ignoring case; its needle is "ecret" in each of
# its 32 spellings, not "aws": "aws" is in "draws", "laws" and "flaws" (in 900 of 16,000
# files of five published trees, "ecret" in 84), and each file with a needle is decoded
# and searched. None of e, c, r, t has a non-ASCII case partner under (?i) ("s" has "ſ",
# "k" the Kelvin sign), so these are all the phrase's spellings of that part.
_SECRET_CASES = tuple("".join(spelling) for spelling in product(*((c, c.upper()) for c in "ecret")))
TOKEN_NEEDLES: tuple[tuple[str, ...], ...] = (
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ("github_pat_",),
    ("glpat-",),
    ("AKIA", "ASIA", "ABIA", "ACCA"),
    _SECRET_CASES,
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

# Files (scan_file) are tested on their raw bytes first, for every needle at once, by an
# Aho-Corasick automaton (ahocorasick_rs: the Rust aho-corasick crate, whose SIMD literal
# search ran at ~0.15 ns a byte here, where one regex pass per group of literals cost
# ~0.4 ns a byte and fourteen of them were half of `check`'s CPU time). UTF-8 bytes: an
# ASCII needle is in the bytes exactly when it is in their decoded text, and "ſ" only as
# its one UTF-8 sequence, which always decodes back to it; so the needles found in the
# bytes are the needles of the text, and only their patterns are tried (scan_text).
NEEDLES: tuple[str, ...] = tuple(sorted({n for ns in TOKEN_NEEDLES for n in ns}))
_NEEDLE_BYTES = tuple(n.encode() for n in NEEDLES)


def _starts_inside(outer: bytes, inner: bytes) -> bool:
    """Whether `inner` can start within an occurrence of `outer` (at its first byte or later)."""
    return inner != outer and any(outer[k:k + len(inner)] == inner[:len(outer) - k] for k in range(len(outer)))


# The search reports matches that do not overlap, leftmost first: a needle that starts
# inside a reported one ("glpat-" then "-----BEGIN " sharing its "-") is not reported, so
# when a needle is found, each needle that could hide in it is looked for on its own.
@cache
def _hidden_by(index: int) -> tuple[int, ...]:
    """The needles that can start inside needle `index`: worked out once per needle, when it
    is first found (the whole table at import cost ~3 ms of every `check` start)."""
    outer = _NEEDLE_BYTES[index]
    return tuple(j for j, inner in enumerate(_NEEDLE_BYTES) if _starts_inside(outer, inner))


# The search lists every match: a hostile file of nothing but needles would make a list of
# tens of millions, so the bytes are searched a slice at a time (each slice reaching one
# needle's length into the next, so no needle is cut).
_SLICE = 1 << 20
_REACH = max(map(len, _NEEDLE_BYTES)) - 1


@cache
def _searcher() -> Any:
    import ahocorasick_rs  # a compiled extension, ~1 ms: loaded when a file is scanned

    return ahocorasick_rs.BytesAhoCorasick(list(_NEEDLE_BYTES), matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST)


def prepare_searcher() -> None:
    """Build the searcher now (before a fork: the children inherit it)."""
    _searcher()


# What the bytes must hold around a needle for its pattern to match in their text, for the
# needles that are common in files without any secret: "://" is in every licence header and
# URL of a tree's source code, "hf_" in model names. A needle whose pattern's test finds
# nothing is dropped, and a file left with none is never decoded (on a whole published
# round, 8,000 files with "://" were a third of the secret scan).
#
# Each test must find something in the bytes of every text its pattern matches in:
#   - the URL with a password: after "://", the user (1-256 characters, none of white
#     space, '/', ':', '@', quotes), ':', the password (1-256, the same but ':'), '@'. In
#     the bytes each character is one to four bytes (UTF-8, or a bad sequence that decodes
#     to U+FFFD), hence up to 1024; an ASCII character is its own byte, and only ASCII
#     white space is excluded here (the text's `\s` excludes more), so every such text's
#     bytes pass;
#   - a Hugging Face token: "hf_" and 30 ASCII letters or digits, which are their own bytes.
_CONFIRM: dict[str, re.Pattern[bytes]] = {
    "a URL with a password": re.compile(rb"://[^\s/:@\"']{1,1024}:[^\s/@\"']{1,1024}@"),
    "a Hugging Face token": re.compile(rb"hf_[A-Za-z0-9]{30}"),
}
TOKEN_CONFIRM: tuple[re.Pattern[bytes] | None, ...] = tuple(_CONFIRM.get(what) for _, what in TOKEN_PATTERNS)


def needles_in(data: bytes) -> frozenset[str]:
    """The needles (of TOKEN_NEEDLES) in the text these bytes decode to, less those whose
    pattern's test (TOKEN_CONFIRM) finds nothing in the bytes; empty only when no token
    pattern can match that text."""
    needles = set(literals_in(data))
    for own, confirm in zip(TOKEN_NEEDLES, TOKEN_CONFIRM):
        if confirm is not None and not needles.isdisjoint(own) and confirm.search(data) is None:
            needles.difference_update(own)  # each needle belongs to one pattern (asserted below)
    return frozenset(needles)


def literals_in(data: bytes) -> frozenset[str]:
    """Every needle (of TOKEN_NEEDLES) in the text these bytes decode to."""
    search = _searcher().find_matches_as_indexes
    view = memoryview(data)
    found: set[int] = set()
    for start in range(0, len(data), _SLICE):
        found.update(index for index, _, _ in search(view[start:start + _SLICE + _REACH]))
    for index in list(found):
        found.update(j for j in _hidden_by(index) if j not in found and _NEEDLE_BYTES[j] in data)
    return frozenset(NEEDLES[i] for i in found)


assert len(NEEDLES) == sum(map(len, TOKEN_NEEDLES)), "a needle shared by two patterns"


def may_hold_secret(data: bytes) -> bool:
    """False only when no token pattern can match the text these bytes decode to."""
    return bool(needles_in(data))


# Where a pattern's match can start relative to one of its needles: at the needle, except
# the URL with a password, whose scheme (1 to 21 characters) comes before its "://", and
# the AWS secret key, whose "ecret" follows "aws_s" or "awss" (ſ for s: one character).
TOKEN_BACK: tuple[int, ...] = tuple(
    21 if needles == ("://",) else 5 if needles == _SECRET_CASES else 0 for needles in TOKEN_NEEDLES)
assert len(TOKEN_BACK) == len(TOKEN_PATTERNS)


def _spans_near_needles(text: str, index: int, present: frozenset[str] | None) -> list[tuple[int, int]] | None:
    """The spans `TOKEN_PATTERNS[index]` matches in `text`, as `finditer` gives them, found
    by trying the pattern only where its needles let a match start; None when the needles
    are so dense that the regex over the whole text is the cheaper way.

    A pattern that opens with a look-behind is tried by `finditer` at every position of
    the text (~14 ns a character): a megabyte of source code with its licence URLs, or of
    hexadecimal accuracy data, in which "://" or "ACCA" occur, cost that much per pattern.
    Every match starts within TOKEN_BACK characters before one of its needles, so trying
    those starts in order, each from the end of the last match on, finds the same matches.
    """
    pattern, back, needles = TOKEN_PATTERNS[index][0], TOKEN_BACK[index], TOKEN_NEEDLES[index]
    if present is not None:
        needles = tuple(n for n in needles if n in present)
    budget = len(text) // 64 + 64  # candidate starts; beyond this the regex is bounded and cheaper
    starts: set[int] = set()
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            starts.update(range(max(0, at - back), at + 1))
            if len(starts) > budget:
                return None
            at = text.find(needle, at + 1)
    spans: list[tuple[int, int]] = []
    end = 0
    for start in sorted(starts):
        if start < end:
            continue  # finditer goes on from the end of the last match
        match = pattern.match(text, start)  # a look-behind still sees the text before start
        if match is not None:
            spans.append(match.span())
            end = match.end()
    return spans


def scan_text(text: str, needles: frozenset[str] | None = None) -> list[Leak]:
    """Every known token format in `text`, in order, with 1-based line and column.

    `needles`: the needles in `text`, when the caller knows them (needles_in on the bytes
    it was decoded from): only the patterns they belong to are tried.
    """
    leaks: list[Leak] = []
    if needles is None:
        if _ANY_NEEDLE.search(text) is None:
            return leaks
        candidates: list[int] | range = range(len(TOKEN_PATTERNS))
    else:
        candidates = [i for i, own in enumerate(TOKEN_NEEDLES) if not needles.isdisjoint(own)]
    for index in candidates:
        what = TOKEN_PATTERNS[index][1]
        spans = _spans_near_needles(text, index, needles)
        if spans is None:
            spans = [match.span() for match in TOKEN_PATTERNS[index][0].finditer(text)]
        for start, end in spans:
            line, col = position(text, start)
            leaks.append(Leak(what, line, col, start, end))
    return sorted(leaks, key=lambda leak: leak.start)


def scan_value(value: str) -> list[Leak]:
    """`scan_text`, plus the whole-value shapes (a UUID standing alone)."""
    leaks = scan_text(value)
    if UUID_VALUE.fullmatch(value.strip()):
        leaks.append(Leak("a UUID-shaped id (the portal's submitter id is one)", 1, 1, 0, len(value)))
    return leaks


def scan_file(path: Path | str, limit: int = 64 * 1024 * 1024) -> list[Leak]:
    """Leaks in a text file (a log, a record); binary bytes are read as replacement characters.
    Its first `limit` bytes: a larger file is scanned that far."""
    # os.read, not a buffered read(limit), which first allocates `limit` bytes
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = read_to_end(partial(os.read, fd), os.fstat(fd).st_size, limit)[:limit]
    finally:
        os.close(fd)
    return scan_bytes(data)


def scan_bytes(data: bytes) -> list[Leak]:
    """Leaks in a file's bytes (`scan_file` of a file read already)."""
    needles = needles_in(data)
    if not needles:
        return []
    return scan_text(data.decode("utf-8", errors="replace"), needles)


def scan_tree(root: Path) -> Iterator[tuple[Path, Leak]]:
    """Leaks in every file under `root` (a submission tree before it is packed)."""
    for path in sorted(p for p in entries_under(root) if p.is_file() and not p.is_symlink()):
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
