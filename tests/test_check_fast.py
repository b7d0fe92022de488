"""`check`'s fast paths decide exactly as the slow ones they replace.

- the secret scan's one-pass search of a file's bytes finds exactly the needles in them
  (none hidden inside another, none cut between two slices);
- an accuracy log read for a few keys (its sample-index arrays validated, not decoded)
  has the same keys, errors, warnings, malformed lines and wanted values as read in full;
- verdicts from the errors that can decide a result are those of every error;
- results and secret scans spread over forked processes give the serial report.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops import secretscan  # noqa: E402
from mlperf_ops.check import check_tree, hygiene, parallel, runner, verdicts  # noqa: E402
from mlperf_ops.check.findings import Finding, ResultRow  # noqa: E402
from mlperf_ops.core.loadgen_log import DetailLog, parse_detail_bytes, parse_detail_text  # noqa: E402

from tests.support import treegen  # noqa: E402
from tests.test_secretscan import TOKENS  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "data" / "real_trees"
NEEDLES = secretscan.NEEDLES
# a long run of what an accuracy log is mostly made of: the prefilter deletes it first
DIGITS = (",".join(str(i * 7919 % 50000) for i in range(20000))).encode()


# ------------------------------------------------------------------ secret prefilter


def _every_needle(data: bytes) -> set[str]:
    """A substring search per needle: the reference the one-pass search must equal."""
    return {n for n in NEEDLES if n.encode() in data}


@pytest.mark.parametrize("needle", NEEDLES)
def test_every_needle_is_found_short_long_and_across_a_slice(needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = needle.encode()  # (the Slack webhook's needle holds "://", another needle)
    for data in (b"x " + raw + b" y", DIGITS + raw + DIGITS):
        assert needle in secretscan.literals_in(data) and secretscan.literals_in(data) == _every_needle(data)
    # the bytes are searched a slice at a time: a needle cut by a slice's end is still found
    monkeypatch.setattr(secretscan, "_SLICE", 64)  # slices of 64 bytes, so that many are cut
    for cut in range(1, len(raw)):
        data = b"x" * (3 * 64 - cut) + raw + b"y" * 10
        assert secretscan.literals_in(data) == _every_needle(data), cut


def test_the_needles_found_are_exactly_those_in_the_bytes() -> None:
    # random text over the needles' own characters, digits and commas, and needles spliced
    # into each other: one that starts inside another ("glpat-" + "-----BEGIN ") is not
    # reported by the search and must still be found
    rng = random.Random(10)
    alphabet = sorted(set("".join(NEEDLES)) | set("0123456789,") | {"\u017f"})
    for size in (40, 200, 5000):
        for _ in range(200 if size < 5000 else 20):
            pieces = ["".join(rng.choice(alphabet) for _ in range(size))]
            for _ in range(rng.randrange(4)):
                at = rng.randrange(len(pieces[-1]) + 1)
                needle = rng.choice(NEEDLES)
                overlap = rng.randrange(len(needle))  # glue onto the text before it, sharing characters
                pieces[-1] = pieces[-1][:at] + needle[overlap:] if pieces[-1][:at].endswith(needle[:overlap]) \
                    else pieces[-1][:at] + needle + pieces[-1][at:]
            data = "".join(pieces).encode()
            assert secretscan.literals_in(data) == _every_needle(data), data[:300]
    for outer in NEEDLES:  # every pair that shares characters, glued
        for inner in NEEDLES:
            for k in range(1, len(outer)):
                if inner.startswith(outer[k:]) or outer[k:].startswith(inner):
                    data = (outer[:k] + inner + outer[k + len(inner):]).encode()
                    assert secretscan.literals_in(data) == _every_needle(data), data


@pytest.mark.parametrize("what", sorted(TOKENS))
def test_a_token_in_a_long_accuracy_log_is_found_where_it_is(what: str, tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    head = b':::MLLOG {"key": "loaded_qsl_set", "value": [' + DIGITS + b"]}\n"
    path.write_bytes(head + b':::MLLOG {"key": "note", "value": "' + TOKENS[what].encode() + b'"}\n' + head)
    leaks = secretscan.scan_file(path)
    assert [leak.what for leak in leaks] == [what]
    assert leaks == secretscan.scan_text(path.read_text("utf-8"))
    assert leaks[0].line == 2


def test_a_file_is_scanned_up_to_its_limit_whatever_its_size(tmp_path: Path) -> None:
    token = TOKENS["an npm token"].encode()
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 1000 + b" " + token + b"\n" + b"y" * 1000 + b" " + token)
    assert len(secretscan.scan_file(path)) == 2
    assert len(secretscan.scan_file(path, limit=1500)) == 1  # the second token lies beyond
    assert len(secretscan.scan_file(path, limit=10**6)) == 2


# ------------------------------------------------------------------ accuracy logs


ACCURACY_KEYS = frozenset({"effective_test_mode", "effective_accuracy_sample_count", "qsl_reported_total_count"})


def _same_but_elided(full: DetailLog, part: DetailLog, wanted: frozenset[str]) -> list[str]:
    """The keys whose values were not decoded; fails on any other difference."""
    assert list(full.values) == list(part.values)
    assert (full.errors, full.warnings, full.malformed_lines) == (part.errors, part.warnings, part.malformed_lines)
    elided = [k for k in full.values if full.values[k] != part.values[k]]
    assert all(part.values[k] is None and k not in wanted for k in elided)
    return elided


def _array(start: int = 1, n: int = 400) -> str:
    return "[" + ",".join(str(start + i) for i in range(n)) + "]"


META = '"metadata": {"is_error": false, "is_warning": false, "file": "loadgen.cc", "line_no": 1}'


def _line(key: str, value: str, meta: str = META) -> str:
    return f':::MLLOG {{"key": "{key}", "value": {value}, "time_ms": 1.5, {meta}}}'


def test_real_accuracy_logs_read_for_a_few_keys_as_in_full() -> None:
    logs = sorted(CORPUS.glob("*/tree/*/*/results/*/*/*/accuracy/mlperf_log_detail.txt"))
    assert logs
    elided_any = False
    for path in logs:
        text = path.read_text("utf-8", errors="replace")
        elided_any |= bool(_same_but_elided(parse_detail_text(text), parse_detail_text(text, ACCURACY_KEYS),
                                            ACCURACY_KEYS))
        assert parse_detail_bytes(path.read_bytes(), ACCURACY_KEYS) == parse_detail_text(text, ACCURACY_KEYS), path
    assert elided_any  # real accuracy logs list their loaded samples: the fast path ran
    big = _line("loaded_qsl_set", _array())
    assert _same_but_elided(parse_detail_text(big), parse_detail_text(big, ACCURACY_KEYS), ACCURACY_KEYS) == [
        "loaded_qsl_set"]


@pytest.mark.parametrize("lines", [
    [_line("loaded_qsl_set", _array(0))],  # a 0 that is a whole number
    [_line("loaded_qsl_set", "[01," + _array()[1:])],  # a leading zero: not JSON
    [_line("loaded_qsl_set", _array()[:-1] + ",007,8]")],  # one inside too
    [_line("loaded_qsl_set", _array()[:-1] + ",,7]")],  # an empty item: not JSON
    [_line("loaded_qsl_set", "[," + _array()[1:])],
    [_line("loaded_qsl_set", _array()[:-1] + ",]")],
    [_line("loaded_qsl_set", _array().replace(",", ", "))],  # spaces: decoded as before
    [_line("loaded_qsl_set", _array().replace("5", "-5"))],  # negative numbers: decoded
    [_line("effective_accuracy_sample_count", _array())],  # a wanted key is always decoded
    [_line("loaded_qsl_set", _array(), META.replace('"is_error": false', '"is_error": true'))],  # shown in errors
    [_line("loaded_qsl_set", _array(), META.replace('"is_warning": false', '"is_warning": 1'))],
    # a second "key" member renames the event to a wanted key: its value is decoded after all
    [_line("loaded_qsl_set", _array(), META + ', "key": "effective_accuracy_sample_count"')],
    # a second "value" member wins over the elided one
    [_line("loaded_qsl_set", _array(), META + ', "value": 3')],
    [_line("loaded_qsl_set", _array()), "garbage", _line("effective_test_mode", '"AccuracyOnly"')],
    [_line("loaded_qsl_set", _array())[:-1]],  # the object is not closed
    [_line("loaded_qsl_set", _array()) + "]"],
])
def test_odd_array_lines_read_for_a_few_keys_as_in_full(lines: list[str]) -> None:
    text = "\n".join(lines)
    _same_but_elided(parse_detail_text(text), parse_detail_text(text, ACCURACY_KEYS), ACCURACY_KEYS)
    assert parse_detail_bytes(text.encode(), ACCURACY_KEYS) == parse_detail_text(text, ACCURACY_KEYS)


# ------------------------------------------------------------------ verdicts


def _brute_force(findings: list[Finding], results: list[ResultRow]) -> list[tuple[bool, list[dict[str, str]]]]:
    errors = [f for f in findings if f.severity == "error"]
    paths = {r.path for r in results}
    return [(not (d := [f for f in errors if r.path and verdicts._decides(f, r, paths)]), [f.as_dict() for f in d])
            for r in results]


def test_verdicts_from_the_errors_that_can_decide_are_those_of_every_error() -> None:
    rng = random.Random(3)
    folders = ["closed/A", "closed/B", "open/A"]
    results = []
    for sub in folders:
        for system in ("s1", "s2"):
            for bench in ("resnet", "bert"):
                for scenario in ("Offline", "Server"):
                    results.append(ResultRow(sub.split("/")[0], sub.split("/")[1], system, bench, bench, scenario,
                                             None, None, None, None,
                                             path=f"{sub}/results/{system}/{bench}/{scenario}"))
    results.append(ResultRow("open", "A", "s1", "x", None, "Offline", None, None, None, None, path=""))
    places = [""] + [p for sub in folders for p in (
        sub, f"{sub}/src", f"{sub}/src/x.py", f"{sub}/systems/s1.json", f"{sub}/systems/s2.json", f"{sub}/results",
        f"{sub}/results/s1", f"{sub}/results/s2/bert", f"{sub}/results/s1/resnet/Offline/accuracy/accuracy.txt",
        f"{sub}/results/s2/resnet/Server", f"{sub}/results/s1/bert/MultiStream", f"{sub}/model_mapping.json")]
    for _ in range(30):
        findings = [Finding("x", rng.choice(["error", "error", "warning"]), rng.choice(places), str(i))  # type: ignore[arg-type]
                    for i in range(rng.randrange(1, 40))]
        expected = _brute_force(findings, results)
        verdicts.assign_verdicts(findings, results)
        assert [(r.valid, r.reasons) for r in results] == expected


# ------------------------------------------------------------------ the hygiene walk


def test_the_walk_names_every_bad_entry_by_its_path_from_the_root(tmp_path: Path) -> None:
    # the walk keeps each folder's relative path as a string (no Path per entry): every
    # finding must still name its entry from the root, at any depth, in walk order
    root = tmp_path / "t"
    (root / "closed" / "Sub" / "results" / "s 1" / ".hid").mkdir(parents=True)
    (root / "closed" / "Sub" / "empty" / "inner").mkdir(parents=True)
    (root / "open" / "x" / "__pycache__").mkdir(parents=True)
    (root / "closed" / "Sub" / "results" / "s 1" / "a b.txt").write_text("hi")
    (root / "closed" / "Sub" / "results" / "deep" / "er").mkdir(parents=True)
    (root / "closed" / "Sub" / "results" / "deep" / "er" / "s.log").write_text(f"t {TOKENS['a GitHub token']}\n")
    (root / "closed" / "linkdir").symlink_to("Sub")
    os.mkfifo(root / "closed" / "Sub" / "fifo")
    (root / ".hiddenroot").write_text("x")
    found = [(f.rule_id, f.path) for f in hygiene.hygiene_findings(root)]
    assert found == [
        ("tree.hidden", ".hiddenroot"),
        ("tree.symlink", "closed/linkdir"),
        ("tree.stray-entry", "closed/Sub/fifo"),
        ("tree.empty-dir", "closed/Sub/empty/inner"),
        ("tree.space-in-name", "closed/Sub/results/s 1"),
        ("tree.secret", "closed/Sub/results/deep/er/s.log"),
        ("tree.hidden", "closed/Sub/results/s 1/.hid"),
        ("tree.space-in-name", "closed/Sub/results/s 1/a b.txt"),
        ("tree.empty-dir", "closed/Sub/results/s 1/.hid"),
        ("tree.pycache", "open/x/__pycache__"),
        ("tree.empty-dir", "open/x/__pycache__"),
    ]
    assert [f.path for f in hygiene.hygiene_findings(Path(f"{root}/"))] == [p for _, p in found]


# ------------------------------------------------------------------ processes


@pytest.fixture(scope="module")
def many_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated tree under 9 system names (27 results), with findings of every kind."""
    root = treegen.copy_tree(tmp_path_factory.mktemp("many") / "tree")
    sub = treegen.submitter_dir(root)
    doc = json.loads((sub / "systems" / f"{treegen.SYSTEM}.json").read_text())
    for i in range(2, 10):
        shutil.copytree(sub / "results" / treegen.SYSTEM, sub / "results" / f"cpu-edge-{i}")
        (sub / "systems" / f"cpu-edge-{i}.json").write_text(json.dumps(dict(doc, system_name=f"cpu-edge-{i}")))
    (root / "SMOKE_TREE.txt").unlink()
    broken = sub / "results" / "cpu-edge-4" / treegen.CUSTOM_MODEL / "Offline"
    (broken / "performance" / "run_1" / "mlperf_log_summary.txt").unlink()
    (broken / "TEST01" / "verify_accuracy.txt").write_text("TEST FAIL\n")
    (sub / "results" / "cpu-edge-7" / treegen.CUSTOM_MODEL / "MultiStream" / "notes.txt").write_text(
        f"pulled with {TOKENS['a Hugging Face token']}\n")
    (sub / "results" / "cpu-edge-8" / treegen.CUSTOM_MODEL / "stray.txt").write_text("x")
    (sub / "results" / "cpu-edge-2" / ".notes").write_text("x")  # hygiene findings before and after the secret
    (sub / "results" / "cpu-edge-9" / "empty").mkdir()
    return root


def test_results_over_processes_report_what_one_process_does(many_results: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(hygiene, "PARALLEL_SCAN_BYTES", 0)
    monkeypatch.setattr(parallel, "worker_count", lambda: 2)
    monkeypatch.setattr(os, "fork", counting_fork)
    walk_scans = check_tree(many_results).as_dict()  # the walk job scans what no result check reads
    assert len(forks) == 1  # the results (and the walk)
    monkeypatch.setattr(runner, "WALK_SCAN_BYTES", 0)
    spread = check_tree(many_results).as_dict()
    assert len(forks) == 3  # the results, and then the secret scan of every file they did not read
    monkeypatch.setattr(parallel, "worker_count", lambda: 1)
    serial = check_tree(many_results).as_dict()
    assert len(forks) == 3 and len(serial["results"]) == 27 >= runner.PARALLEL_RESULTS
    assert spread == serial == walk_scans
    rules = {f["rule_id"] for f in serial["findings"]}
    assert {"tree.secret", "tree.stray-entry", "files.missing"} <= rules
    # the hygiene findings come first, each secret where the walk met its file, as on their own
    hygiene_alone = [f.as_dict() for f in hygiene.hygiene_findings(many_results)]
    assert [f["rule_id"] for f in hygiene_alone] == ["tree.hidden", "tree.secret", "tree.empty-dir"]
    assert serial["findings"][:3] == hygiene_alone


def test_findings_found_apart_go_back_where_the_walk_met_them() -> None:
    base = [Finding("a", "error", "a", "1"), Finding("b", "error", "b", "2"), Finding("c", "error", "c", "3")]
    parts = [[Finding("x", "error", "x", "4")], [], [Finding("y", "error", "y", "5"), Finding("z", "error", "z", "6")]]
    merged = hygiene.splice(base, [1, 1, 3], parts)
    assert [f.rule_id for f in merged] == ["a", "x", "b", "c", "y", "z"]


def test_a_failed_child_is_redone_in_the_parent() -> None:
    parent = os.getpid()

    def square(x: int) -> int:
        if os.getpid() != parent and x == 3:
            os._exit(9)  # the child dies half-way
        return x * x

    assert parallel.fork_map(square, list(range(10)), workers=2) == [x * x for x in range(10)]


@pytest.mark.parametrize("root,path", [
    ("/a/b", "/a/b/c"), ("/a/b", "/a/b"), ("/a/b", "/a/bc/d"), ("/", "/x/y"), (".", "x/y"), ("a", "a/b/c"),
    ("/a/b/", "/a/b/c/"), ("/a", "/b/c"), ("", "x"), ("/a/b", "/a/b/../c"), ("/a b/ü", "/a b/ü/ß x"),
])
def test_rel_is_relative_to_as_posix(root: str, path: str) -> None:
    """hygiene.rel cuts the root off the path's text where it can: the same as pathlib's."""
    expected = Path(path).relative_to(root).as_posix() if Path(path).is_relative_to(root) else Path(path).as_posix()
    assert hygiene.rel(Path(root), Path(path)) == expected
