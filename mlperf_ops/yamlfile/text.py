"""Bytes to text, with every encoding or character problem given a line and a column.

YAML parsers report a bad byte or a forbidden character with an offset at best (PyYAML's
ReaderError has none we can map to a line); we find them ourselves first, so the parser
only ever sees text it accepts and every problem points at a place in the file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from mlperf_ops.core.positions import position

# YAML 1.1/1.2 printable set (c-printable): tab, LF, CR, NEL, the printable BMP minus
# surrogates, and the astral planes. Everything else — NUL, other C0/C1 controls, DEL,
# U+FFFE/U+FFFF, lone surrogates — is rejected by the parser, so we reject it first.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class TextProblem:
    line: int
    col: int
    message: str
    hint: str


def decode(raw: bytes) -> tuple[str | None, TextProblem | None]:
    """The file's text (UTF-8, or UTF-16/32 with a byte-order mark), or where decoding failed."""
    encoding, skip = "utf-8", 0
    for bom, name in _BOMS:
        if raw.startswith(bom):
            encoding, skip = name, len(bom)
            break
    body = raw[skip:]
    try:
        return body.decode(encoding), None
    except UnicodeDecodeError as error:
        # The text before the bad byte decodes; count its lines and columns.
        before = body[: error.start].decode(encoding, errors="replace")
        line, col = position(before, len(before))
        bad = body[error.start: error.start + 1].hex()
        label = "UTF-8" if encoding == "utf-8" else encoding.upper()
        return None, TextProblem(line, col, f"not {label} text (byte 0x{bad} at offset {skip + error.start})",
                                 "save the file as UTF-8")


def forbidden_character(text: str) -> TextProblem | None:
    """The first character YAML does not allow in a file (control characters, NUL, …)."""
    match = _FORBIDDEN.search(text)
    if match is None:
        return None
    char = match.group()
    line, col = position(text, match.start())
    name = "a NUL byte" if char == "\0" else f"control character U+{ord(char):04X}"
    hint = "remove it; YAML files may not contain control characters"
    if char == "\0" and text.count("\0") * 3 >= len(text):
        hint = "this looks like UTF-16 without a byte-order mark; save the file as UTF-8"
    return TextProblem(line, col, f"{name} is not allowed in YAML", hint)
