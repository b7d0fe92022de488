"""The endpoint harness's LLM accuracy scoring against numbers the MLCommons reference computed.

tests/data/llm_scoring/expected.json was written by the reference evaluations themselves
(language/llama3.1-8b/evaluation.py, language/llama2-70b/evaluate-accuracy.py at
mlcommons/inference b66003e1, with rouge_score 0.1.2, transformers 4.46.2, numpy 1.26) on
this folder's accuracy logs, tokenizers and targets; NOTE.md has the command. Our scorer must
print the same line, character for character, and agree on every pair's F-measures.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlperf_ops.harness.errors import HarnessError
from mlperf_ops.harness.llm import accuracy, detokenize, rouge, sentences
from mlperf_ops.run.outcome import read_accuracy
from mlperf_ops.rules import load_rules

DATA = Path(__file__).parent / "data" / "llm_scoring"
REPO = Path(__file__).resolve().parents[1]
EXPECTED = json.loads((DATA / "expected.json").read_text())
CASES = {  # benchmark -> (accuracy log, tokenizer) the reference was run with
    "llama3.1-8b": ("accuracy_fast.json", "tokenizer_fast"),
    "llama2-70b-99.9": ("accuracy_sp.json", "tokenizer_sp"),
}


@pytest.fixture(scope="module")
def nltk_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import nltk

    root = tmp_path_factory.mktemp("nltk_data")
    sentences.write_nltk_data(root)
    nltk.data.path.insert(0, str(root))
    yield root
    nltk.data.path.remove(str(root))


def test_punkt_tables_are_nltks_english_model(nltk_data: Path) -> None:
    split = sentences.splitter()
    # Abbreviations, initials and times that only the trained English model gets right
    text = "Dr. Smith met Mr. Jones in Washington D.C. on Jan. 5 at 3 p.m. They talked. U.S. officials said no."
    assert split(text) == ["Dr. Smith met Mr. Jones in Washington D.C. on Jan. 5 at 3 p.m.", "They talked.",
                           "U.S. officials said no."]
    folder = nltk_data / sentences.PUNKT_DIR
    assert len((folder / "abbrev_types.txt").read_text().splitlines()) == 156


def test_every_pair_scores_as_rouge_score_scores_it(nltk_data: Path) -> None:
    scorer = rouge.Scorer(stem=True)
    split = sentences.splitter()
    pairs = json.loads((DATA / "pairs.json").read_text())
    assert len(pairs) == len(EXPECTED["per_pair"]) == 30
    for pair, want in zip(pairs, EXPECTED["per_pair"]):
        pred, target = accuracy.postprocess([pair["prediction"], pair["target"]], split)
        assert (pred, target) == (want["prediction"], want["target"])  # nltk's sentence split
        got = scorer.score(target, pred)
        for rouge_type in rouge.ROUGE_TYPES:
            assert got[rouge_type].fmeasure == want[rouge_type], (rouge_type, pair)  # to the last bit


@pytest.mark.parametrize("benchmark", list(CASES))
def test_the_accuracy_line_is_the_reference_line(nltk_data: Path, tmp_path: Path, benchmark: str) -> None:
    log, tok = CASES[benchmark]
    evaluation = accuracy.prepare(benchmark, DATA / "dataset.json", DATA / tok, 30)
    out = tmp_path / "accuracy.txt"
    result = evaluation.run(DATA / log, out)
    assert accuracy.line(result) == EXPECTED[benchmark]["printed"]
    # ... and the project's checker reads every metric the round sets for the benchmark
    rules = load_rules("v6.1")
    found = read_accuracy(out, rules, benchmark)
    assert found is not None
    assert set(found) == {t.metric for t in rules.benchmarks[benchmark].accuracy}
    values = EXPECTED[benchmark]["values"]
    for metric, key in (("ROUGE1", "rouge1"), ("ROUGE2", "rouge2"), ("ROUGEL", "rougeL"),
                        ("ROUGELSUM", "rougeLsum"), ("GEN_LEN", "gen_len"), ("TOKENS_PER_SAMPLE", "tokens_per_sample")):
        if metric in found:
            assert math.isclose(float(found[metric]), values[key]), metric


def test_decoding_follows_the_tokenizer_config(tmp_path: Path) -> None:
    fast = detokenize.load(DATA / "tokenizer_fast")
    assert fast.kind == "tokenizer.json"
    ids = [3 + ord(c) for c in "It ended , he said ."] + [2]
    assert fast.decode(ids) == "It ended, he said."  # EOS skipped, clean-up on (Llama 3.1's config)
    config = json.loads((DATA / "tokenizer_fast" / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer.json").write_bytes((DATA / "tokenizer_fast" / "tokenizer.json").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({**config, "clean_up_tokenization_spaces": False}))
    assert detokenize.load(tmp_path).decode(ids) == "It ended , he said ."
    sp = detokenize.load(DATA / "tokenizer_sp")
    assert sp.kind == "tokenizer.model"
    with pytest.raises(ValueError, match="outside"):
        sp.decode([5000])
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer"}))
    with pytest.raises(HarnessError, match="GPT2Tokenizer"):
        detokenize.load(tmp_path)


def test_rouge_edge_cases() -> None:
    scorer = rouge.Scorer(stem=True)
    empty = scorer.score("the cat sat", "")
    assert all(s.fmeasure == 0.0 for s in empty.values())
    same = scorer.score("Cats were running.\nDogs ran.", "cats were running.\ndogs ran.")
    assert all(s.fmeasure == 1.0 for s in same.values())
    # stemming: "running" and "runs" share the stem "run"; 3-letter words are not stemmed
    assert scorer.tokenizer.tokens("Running runs ran, café-au-lait!") == ["run", "run", "ran", "caf", "au", "lait"]
    # Lsum counts a repeated token no more often than either side has it
    lsum = rouge.rouge_lsum([["a", "b"], ["a", "b"]], [["a", "b", "a", "b"]])
    assert lsum.recall == 1.0 and lsum.precision == 1.0
    rng = random.Random(7)
    words = ["a", "b", "c", "d"]
    for _ in range(200):  # summary-level LCS never exceeds either side's length
        t = [[rng.choice(words) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 3))]
        p = [[rng.choice(words) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 3))]
        s = rouge.rouge_lsum(t, p)
        assert 0.0 <= s.precision <= 1.0 and 0.0 <= s.recall <= 1.0


def test_accuracy_log_reading(tmp_path: Path) -> None:
    answers = accuracy.read_log(DATA / "accuracy_fast.json")
    # sample 3 is logged twice, its short entry first: that one counts (the reference's rule too)
    assert [a.qsl_idx for a in answers][:3] == [0, 3, 29] and len(answers) == 30
    assert answers[1].ids == [40, 41] and answers[0].ids[-1] == 2
    bad = tmp_path / "log.json"
    bad.write_text(json.dumps([{"qsl_idx": 0, "data": "0102"}]))
    with pytest.raises(HarnessError, match="not int32 token ids"):
        accuracy.read_log(bad)


def _cli(*args: str, nltk_data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NLTK_DATA": str(nltk_data)}
    return subprocess.run([sys.executable, "-m", "mlperf_ops.harness.llm", "accuracy", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_accuracy_command(nltk_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "accuracy.txt"
    done = _cli("--benchmark", "llama2-70b-99.9", "--log", str(DATA / "accuracy_sp.json"), "--dataset",
                str(DATA / "dataset.json"), "--tokenizer", str(DATA / "tokenizer_sp"), "--out", str(out),
                nltk_data=nltk_data)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == EXPECTED["llama2-70b-99.9"]["printed"] + "\n"
    # a data set without the reference answers: one error line and a hint, exit 2
    data = json.loads((DATA / "dataset.json").read_text())
    del data["output"]
    no_targets = tmp_path / "dataset.json"
    no_targets.write_text(json.dumps(data))
    done = _cli("--benchmark", "llama3.1-8b", "--log", str(DATA / "accuracy_fast.json"), "--dataset",
                str(no_targets), "--tokenizer", str(DATA / "tokenizer_fast"), nltk_data=nltk_data)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "has no 'output' column" in done.stderr and "hint:" in done.stderr
    # no Punkt tables: says how to install them
    done = _cli("--benchmark", "llama3.1-8b", "--log", str(DATA / "accuracy_fast.json"), "--dataset",
                str(DATA / "dataset.json"), "--tokenizer", str(DATA / "tokenizer_fast"), nltk_data=tmp_path / "none")
    assert done.returncode == 2 and "punkt-data" in done.stderr, done.stderr


def test_an_accuracy_run_without_a_tokenizer_stops_before_it_starts(tmp_path: Path) -> None:
    from tests.support.llm_harness_run import run_harness, write_dataset

    data = write_dataset(tmp_path / "dataset.json", ["a prompt"])
    # no server at this URL either: the missing tokenizer is found first, in a second
    run = run_harness(tmp_path / "Offline", url="http://127.0.0.1:9", dataset=data, scenario="Offline",
                      mode="AccuracyOnly", conf={}, timeout=60)
    assert run.code == 2, run.stdout + run.stderr
    assert "error: an accuracy run decodes its answers with the model's tokenizer" in run.stderr
    assert "hint: declare the model artifact" in run.stderr and "Traceback" not in run.stderr
