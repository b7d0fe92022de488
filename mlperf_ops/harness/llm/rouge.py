"""ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures as the MLCommons LLM evaluations get them.

The reference evaluations (language/llama3.1-8b/evaluation.py, language/llama2-70b/
evaluate-accuracy.py at mlcommons/inference b66003e1) call Hugging Face `evaluate`'s "rouge"
metric with `use_stemmer=True, use_aggregator=False`, which scores each pair with Google's
`rouge_score` package (0.1.2) and keeps each pair's F-measure. This module is our own code for
the same definitions, so the harness image needs neither package (`rouge_score` is published
as a source archive only, and the image installs wheels offline):

- tokens: the text lower-cased, every run of characters other than a-z/0-9 a separator,
  tokens longer than 3 characters Porter-stemmed (NLTK's PorterStemmer in its default
  NLTK_EXTENSIONS mode, as rouge_score uses it), empty tokens dropped;
- ROUGE-N: clipped n-gram overlap; precision over the prediction's n-grams, recall over the
  target's (each denominator at least 1);
- ROUGE-L: the longest common subsequence of the two token lists;
- ROUGE-Lsum: summary-level LCS over newline-separated sentences (empty lines dropped): for
  each target sentence, the union of the LCS positions found against every predicted
  sentence, each token counted at most as often as it occurs on both sides (ROUGE 1.5.5's
  rule against double counting). Which LCS a tie picks changes that union, so the
  backtracking prefers, like rouge_score, a step back in the target on equal table values.

`tests/data/llm_scoring/` holds values computed with the reference code itself; the test
suite compares this module with them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")

_SEPARATOR = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
_VALID = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    fmeasure: float


def _fmeasure(precision: float, recall: float) -> float:
    # The same expression order as the reference, so the floats agree to the last bit.
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ratio_score(hits: int, predicted: int, target: int) -> Score:
    precision = hits / max(predicted, 1)
    recall = hits / max(target, 1)
    return Score(precision, recall, _fmeasure(precision, recall))


class Tokenizer:
    """Text -> ROUGE tokens; stemming through NLTK's Porter stemmer (memoised: summaries repeat words)."""

    def __init__(self, stem: bool = True) -> None:
        self._stem: Callable[[str], str] | None = None
        if stem:
            from nltk.stem import porter

            stemmer = porter.PorterStemmer()
            self._stem = lru_cache(maxsize=1 << 16)(stemmer.stem)

    def tokens(self, text: str) -> list[str]:
        words = _SPACES.split(_SEPARATOR.sub(" ", text.lower()))
        if self._stem is not None:
            stem = self._stem
            words = [stem(w) if len(w) > 3 else w for w in words]
        return [w for w in words if _VALID.match(w)]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(target: Sequence[str], prediction: Sequence[str], n: int) -> Score:
    t, p = _ngrams(target, n), _ngrams(prediction, n)
    hits = sum(min(count, p[gram]) for gram, count in t.items())
    return _ratio_score(hits, sum(p.values()), sum(t.values()))


def _lcs_table(a: Sequence[str], b: Sequence[str]) -> list[list[int]]:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        row, above = table[i], table[i - 1]
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            row[j] = above[j - 1] + 1 if ai == b[j - 1] else max(above[j], row[j - 1])
    return table


def rouge_l(target: Sequence[str], prediction: Sequence[str]) -> Score:
    if not target or not prediction:
        return Score(0.0, 0.0, 0.0)
    lcs = _lcs_table(target, prediction)[-1][-1]
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    return Score(precision, recall, _fmeasure(precision, recall))


def _lcs_positions(target: Sequence[str], prediction: Sequence[str]) -> list[int]:
    """Indexes into `target` of one LCS; on a tie, step back in the target (see the docstring)."""
    table = _lcs_table(target, prediction)
    i, j = len(target), len(prediction)
    found: list[int] = []
    while i > 0 and j > 0:
        if target[i - 1] == prediction[j - 1]:
            found.append(i - 1)
            i -= 1
            j -= 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    found.reverse()
    return found


def rouge_lsum(target: Sequence[Sequence[str]], prediction: Sequence[Sequence[str]]) -> Score:
    """Summary-level LCS; each argument is a list of sentences, each a list of tokens."""
    target_len = sum(len(s) for s in target)
    predicted_len = sum(len(s) for s in prediction)
    if not target or not prediction or not target_len or not predicted_len:
        return Score(0.0, 0.0, 0.0)
    left_t: Counter[str] = Counter(tok for sentence in target for tok in sentence)
    left_p: Counter[str] = Counter(tok for sentence in prediction for tok in sentence)
    hits = 0
    for sentence in target:
        union: set[int] = set()
        for candidate in prediction:
            union.update(_lcs_positions(sentence, candidate))
        for index in sorted(union):
            tok = sentence[index]
            if left_p[tok] > 0 and left_t[tok] > 0:
                hits += 1
                left_p[tok] -= 1
                left_t[tok] -= 1
    recall = hits / target_len
    precision = hits / predicted_len
    return Score(precision, recall, _fmeasure(precision, recall))


class Scorer:
    """All four ROUGE types for one (target, prediction) pair, the way `rouge_score` scores it."""

    def __init__(self, stem: bool = True) -> None:
        self.tokenizer = Tokenizer(stem)

    def score(self, target: str, prediction: str) -> dict[str, Score]:
        tok = self.tokenizer.tokens
        t, p = tok(target), tok(prediction)

        def sentences(text: str) -> list[list[str]]:
            return [tok(line) for line in text.split("\n") if line]

        return {
            "rouge1": rouge_n(t, p, 1),
            "rouge2": rouge_n(t, p, 2),
            "rougeL": rouge_l(t, p),
            "rougeLsum": rouge_lsum(sentences(target), sentences(prediction)),
        }
