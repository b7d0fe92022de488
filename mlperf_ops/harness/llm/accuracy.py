"""The accuracy line of an LLM accuracy run, computed as the reference evaluation computes it.

Facts from mlcommons/inference b66003e1 (language/llama3.1-8b/evaluation.py and
language/llama2-70b/evaluate-accuracy.py), all reproduced here:
- mlperf_log_accuracy.json is read in file order; a sample logged twice counts once (its
  first entry); each entry's hex `data` is the answer's token ids (int32 from this harness;
  the reference scripts' `--dtype`);
- the ids are decoded with the model's tokenizer, special tokens skipped (detokenize.py);
- predictions and targets are stripped, then split into sentences with nltk.sent_tokenize
  and joined with newlines (sentences.py);
- ROUGE-1/2/L/Lsum F-measures per pair, stemmed (rouge.py); each metric the mean over the
  pairs (numpy, as the reference) times 100, rounded to 4 decimals by numpy;
- gen_len: the total characters of the newline-joined predictions; gen_num: their count;
  llama2-70b also gen_tok_len (total token ids) and tokens_per_sample (gen_tok_len/gen_num
  rounded to 1 decimal).
The line is printed the way the reference prints its result dict (numpy < 2's repr, which the
submission checker's ACC_PATTERN regexes read): llama3.1-8b's ROUGE values as quoted
strings, llama2-70b's as numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HarnessError
from .detokenize import Detokenizer
from .rouge import ROUGE_TYPES, Scorer

# Checker benchmark name -> how its reference evaluation reports.
QUOTED_ROUGE = {"llama3.1-8b": True, "llama3.1-8b-edge": True, "llama2-70b-99.9": False}
TOKENS_PER_SAMPLE = {"llama2-70b-99.9"}
DTYPES = {"int32": 4, "int64": 8}


@dataclass(frozen=True)
class Answer:
    qsl_idx: int
    ids: list[int]


def read_log(path: Path, dtype: str = "int32") -> list[Answer]:
    """The accuracy log's answers, first entry per sample, in file order."""
    width = DTYPES[dtype]
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise HarnessError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise HarnessError(f"{path}: an accuracy log is a JSON list of entries")
    seen: set[int] = set()
    answers: list[Answer] = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("qsl_idx"), int) \
                or not isinstance(entry.get("data"), str):
            raise HarnessError(f"{path}: entry {n} has no integer qsl_idx and hex data")
        idx = entry["qsl_idx"]
        if idx in seen:
            continue
        seen.add(idx)
        try:
            raw = bytes.fromhex(entry["data"])
        except ValueError:
            raise HarnessError(f"{path}: entry {n} (sample {idx}) has data that is not hex") from None
        if len(raw) % width:
            raise HarnessError(f"{path}: entry {n} (sample {idx}) holds {len(raw)} bytes, not {dtype} token ids")
        ids = [int.from_bytes(raw[i:i + width], "little", signed=True) for i in range(0, len(raw), width)]
        answers.append(Answer(idx, ids))
    return answers


def postprocess(texts: Sequence[str], split: Callable[[str], list[str]]) -> list[str]:
    return ["\n".join(split(text.strip())) for text in texts]


def score(benchmark: str, answers: Sequence[Answer], targets: Sequence[str], detok: Detokenizer,
          split: Callable[[str], list[str]]) -> dict[str, Any]:
    """The reference's result dict for these answers (values as the reference has them)."""
    import numpy as np

    if benchmark not in QUOTED_ROUGE:
        raise HarnessError(f"no accuracy scoring for {benchmark!r}", hint=f"one of {', '.join(QUOTED_ROUGE)}")
    if not answers:
        raise HarnessError("the accuracy log holds no answers")
    wanted: list[str] = []
    decoded: list[str] = []
    for answer in answers:
        if not 0 <= answer.qsl_idx < len(targets):
            raise HarnessError(f"sample {answer.qsl_idx} has no target: the data set has {len(targets)} rows")
        wanted.append(targets[answer.qsl_idx])
        try:
            decoded.append(detok.decode(answer.ids))
        except ValueError as exc:
            raise HarnessError(f"sample {answer.qsl_idx}: {exc}") from None
    preds, refs = postprocess(decoded, split), postprocess(wanted, split)
    scorer = Scorer(stem=True)
    per_type: dict[str, list[float]] = {t: [] for t in ROUGE_TYPES}
    for ref, pred in zip(refs, preds):
        for rouge_type, pair_score in scorer.score(ref, pred).items():
            per_type[rouge_type].append(pair_score.fmeasure)
    quoted = QUOTED_ROUGE[benchmark]
    result: dict[str, Any] = {}
    for rouge_type in ROUGE_TYPES:
        mean = round(np.mean(per_type[rouge_type]) * 100, 4)  # numpy's rounding, as the reference
        result[rouge_type] = f"{mean}" if quoted else float(mean)
    result["gen_len"] = int(sum(len(p) for p in preds))
    result["gen_num"] = len(preds)
    if benchmark in TOKENS_PER_SAMPLE:
        tokens = sum(len(a.ids) for a in answers)
        result["gen_tok_len"] = tokens
        result["tokens_per_sample"] = round(tokens / len(preds), 1)
    return result


def line(result: dict[str, Any]) -> str:
    """The printed dict: Python's repr of plain str/int/float values is numpy < 2's."""
    return repr(result)


def write(result: dict[str, Any], out: Path) -> None:
    out.write_text(line(result) + "\n", encoding="utf-8")


@dataclass
class Evaluation:
    """Everything an accuracy run is scored with, loaded before the run so a missing tokenizer
    or target column fails in seconds rather than after the whole data set."""

    benchmark: str
    targets: list[str]
    detok: Detokenizer
    split: Callable[[str], list[str]]

    def run(self, log: Path, out: Path, dtype: str = "int32") -> dict[str, Any]:
        result = score(self.benchmark, read_log(log, dtype), self.targets, self.detok, self.split)
        write(result, out)
        return result


def prepare(benchmark: str, dataset_path: Path, tokenizer: Path, samples: int) -> Evaluation:
    from . import dataset, detokenize, sentences

    if benchmark not in QUOTED_ROUGE:
        raise HarnessError(f"no accuracy scoring for {benchmark!r}", hint=f"one of {', '.join(QUOTED_ROUGE)}")
    targets = dataset.load_targets(dataset_path)
    if len(targets) < samples:
        raise HarnessError(f"{dataset_path}: {len(targets)} targets for {samples} prompts")
    return Evaluation(benchmark, targets, detokenize.load(tokenizer), sentences.splitter())
