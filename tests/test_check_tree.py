"""check_tree on a real (LoadGen-made) smoke tree and on many broken copies of it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any
from pathlib import Path

import pytest

from tests.support import treegen  # noqa: E402
from tests.support.treegen import scenario_dir, submitter_dir  # noqa: E402

from mlperf_ops.check import RULES, check_tree, rule_table  # noqa: E402

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return treegen.copy_tree(tmp_path / "tree")


# ----------------------------------------------------------------------------- helpers


def edit_detail(path: Path, key: str, value: object) -> None:
    """Set `key` to `value` in every MLLOG event of a detail log."""
    lines = []
    found = False
    for line in path.read_text().splitlines():
        if line.startswith(":::MLLOG"):
            event = json.loads(line[len(":::MLLOG") :])
            if event.get("key") == key:
                event["value"] = value
                found = True
                line = ":::MLLOG " + json.dumps(event)
        lines.append(line)
    assert found, f"{key} not in {path}"
    path.write_text("\n".join(lines) + "\n")


def add_error_event(path: Path) -> None:
    event = {
        "key": "error_runtime",
        "value": "Ran out of generated queries to issue before the minimum query count and test duration were reached.",
        "time_ms": 1.0,
        "namespace": "mlperf::logging",
        "event_type": "POINT_IN_TIME",
        "metadata": {"is_error": True, "is_warning": False, "file": "loadgen.cc", "line_no": 1},
    }
    with path.open("a") as handle:
        handle.write(":::MLLOG " + json.dumps(event) + "\n")


def edit_json(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def system_json(root: Path) -> Path:
    return submitter_dir(root) / "systems" / f"{treegen.SYSTEM}.json"


def perf(root: Path, scenario: str = "Offline") -> Path:
    return scenario_dir(root, scenario) / "performance" / "run_1"


def replace_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def set_key(key: str, value: object) -> Callable[[Path], None]:
    return lambda root: edit_json(system_json(root), lambda d: d.__setitem__(key, value))


def write(rel: str, data: bytes = b"x\n") -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        target = submitter_dir(root) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    return mutate


def _to_closed(root: Path) -> None:
    (root / "open").rename(root / "closed")
    path = root / "closed" / treegen.SUBMITTER / "systems" / f"{treegen.SYSTEM}.json"
    edit_json(path, lambda d: d.__setitem__("division", "closed"))


def _sparse_big(root: Path) -> None:
    with (submitter_dir(root) / "src" / "weights.bin").open("wb") as handle:
        handle.truncate(51 * 1024 * 1024)


def _replace_with_file(path_of: Callable[[Path], Path]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        target = path_of(root)
        shutil.rmtree(target)
        target.write_text("not a directory\n")

    return mutate


def _rm(path_of: Callable[[Path], Path]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        target = path_of(root)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    return mutate


def _empty_tree(root: Path) -> None:
    for entry in list(root.iterdir()):
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


S = scenario_dir
MUTATIONS: list[tuple[str, Callable[[Path], None], str]] = [
    # files around a result
    ("missing-readme", _rm(lambda r: S(r) / "README.md"), "files.missing"),
    ("empty-user-conf", lambda r: (S(r) / "user.conf").write_text(""), "files.empty"),
    ("missing-measurements", _rm(lambda r: S(r) / "measurements.json"), "files.missing"),
    ("measurements-missing-key", lambda r: edit_json(S(r) / "measurements.json", lambda d: d.pop("retraining")), "measurements.missing-key"),
    ("measurements-empty-key", lambda r: edit_json(S(r) / "measurements.json", lambda d: d.__setitem__("weight_data_types", "")), "measurements.empty-key"),
    ("measurements-bad-json", lambda r: (S(r) / "measurements.json").write_text("{not json"), "measurements.bad-json"),
    # performance logs
    ("wrong-seed", lambda r: edit_detail(perf(r) / "mlperf_log_detail.txt", "effective_qsl_rng_seed", 12345), "perf.seed-mismatch"),
    ("wrong-schedule-seed-test04", lambda r: edit_detail(S(r) / "TEST04/performance/run_1/mlperf_log_detail.txt", "effective_schedule_rng_seed", 1), "perf.seed-mismatch"),
    ("invalid-result", lambda r: (replace_text(perf(r) / "mlperf_log_summary.txt", "Result is : VALID", "Result is : INVALID"), edit_detail(perf(r) / "mlperf_log_detail.txt", "result_validity", "INVALID")), "perf.invalid"),
    ("invalid-test01-run", lambda r: replace_text(S(r) / "TEST01/performance/run_1/mlperf_log_summary.txt", "Result is : VALID", "Result is : INVALID"), "perf.invalid"),
    ("loadgen-error-line", lambda r: add_error_event(perf(r, "SingleStream") / "mlperf_log_detail.txt"), "perf.loadgen-error"),
    ("garbage-detail-log", lambda r: (perf(r) / "mlperf_log_detail.txt").write_bytes(os.urandom(4096) + b"\x00\xff"), "perf.unparsable"),
    ("garbage-appended", lambda r: (perf(r) / "mlperf_log_detail.txt").open("ab").write(b"\x00\x01garbage\xff\n"), "perf.unparsable"),
    ("garbage-summary", lambda r: (perf(r) / "mlperf_log_summary.txt").write_bytes(b"\x89PNG\x00\x00"), "perf.unparsable"),
    ("missing-run-1", _rm(lambda r: perf(r)), "perf.missing-run"),
    ("missing-performance-dir", _rm(lambda r: S(r) / "performance"), "perf.missing-run"),
    ("run-1-is-a-file", _replace_with_file(lambda r: perf(r)), "tree.not-a-dir"),
    ("missing-detail-log", _rm(lambda r: perf(r) / "mlperf_log_detail.txt"), "files.missing"),
    ("low-sample-count", lambda r: edit_detail(perf(r) / "mlperf_log_detail.txt", "effective_performance_sample_count", 512), "perf.sample-count"),
    ("early-stopping-not-met", lambda r: edit_detail(perf(r, "SingleStream") / "mlperf_log_detail.txt", "early_stopping_met", False), "perf.early-stopping"),
    # (an Offline log in SingleStream/: the reverse is an edge system's inferred result)
    ("scenario-mismatch", lambda r: shutil.copyfile(perf(r) / "mlperf_log_detail.txt", perf(r, "SingleStream") / "mlperf_log_detail.txt"), "perf.scenario-mismatch"),
    # json will not convert an integer of more than 4300 digits: the official parser stops there
    ("integer-of-4301-digits", lambda r: (perf(r) / "mlperf_log_detail.txt").open("a").write(
        ':::MLLOG {"key": "note", "value": %s}\n' % ("7" * 4301)), "perf.unparsable"),
    ("accuracy-run-in-perf-mode", lambda r: edit_detail(S(r) / "accuracy/mlperf_log_detail.txt", "effective_test_mode", "PerformanceOnly"), "perf.mode-mismatch"),
    # accuracy
    ("untruncated-log", lambda r: (S(r) / "accuracy/mlperf_log_accuracy.json").write_text("[\n" + ",\n".join('{ "seq_id" : %d, "qsl_idx" : %d, "data" : "03" }' % (i, i) for i in range(400)) + "\n]\n"), "acc.untruncated"),
    ("hash-line-missing", lambda r: (S(r) / "accuracy/accuracy.txt").write_text("accuracy=80.000%, good=40000, total=50000\n"), "acc.hash-missing"),
    ("accuracy-dir-missing", _rm(lambda r: S(r) / "accuracy"), "acc.missing"),
    ("accuracy-txt-missing", _rm(lambda r: S(r) / "accuracy/accuracy.txt"), "acc.missing"),
    ("wrong-dataset-size", lambda r: edit_detail(S(r, "SingleStream") / "accuracy/mlperf_log_detail.txt", "effective_accuracy_sample_count", 49999), "acc.dataset-size"),
    ("accuracy-log-errors", lambda r: add_error_event(S(r) / "accuracy/mlperf_log_detail.txt"), "acc.invalid"),
    # compliance
    ("test01-fail", lambda r: replace_text(S(r) / "TEST01/verify_accuracy.txt", "TEST PASS", "TEST FAIL"), "compliance.test01-fail"),
    ("test01-perf-fail", lambda r: replace_text(S(r, "MultiStream") / "TEST01/verify_performance.txt", "TEST PASS", "TEST FAIL: Test score invalid"), "compliance.test01-fail"),
    ("test04-fail", lambda r: replace_text(S(r) / "TEST04/verify_performance.txt", "TEST PASS", "TEST FAIL: Test score invalid"), "compliance.test04-fail"),
    ("test01-verify-missing", _rm(lambda r: S(r) / "TEST01/verify_performance.txt"), "compliance.missing"),
    ("unknown-test-dir", lambda r: ((S(r) / "TEST99").mkdir(), (S(r) / "TEST99/verify_accuracy.txt").write_text("TEST PASS\n")), "compliance.unknown"),
    # system description
    ("integer-zero-accelerators", set_key("accelerators_per_node", 0), "system.empty-key"),
    ("upper-case-system-type", set_key("system_type", "Edge"), "system.bad-type"),
    ("is-network-in-open", set_key("is_network", "true"), "system.network-flag"),
    ("empty-cooling", set_key("cooling", ""), "system.empty-key"),
    ("missing-hw-notes", lambda r: edit_json(system_json(r), lambda d: d.pop("hw_notes")), "system.missing-key"),
    ("bad-status", set_key("status", "coming soon"), "system.bad-status"),
    ("status-not-a-string", set_key("status", 1), "system.bad-value-type"),
    ("nodes-not-integer", set_key("number_of_nodes", "one"), "system.not-integer"),
    ("division-mismatch", set_key("division", "closed"), "system.division-mismatch"),
    ("submitter-mismatch", set_key("submitter", "OtherOrg"), "system.submitter-mismatch"),
    ("system-json-garbage", lambda r: system_json(r).write_bytes(b"\xff\xfe\x00garbage"), "system.bad-json"),
    ("system-json-missing", _rm(system_json), "system.missing"),
    ("unused-system-json", lambda r: shutil.copyfile(system_json(r), system_json(r).with_name("spare-box.json")), "system.unused"),
    # tree layout and hygiene
    ("mis-cased-division", lambda r: (r / "open").rename(r / "Open"), "tree.division-case"),
    ("stray-top-level-dir", lambda r: ((r / "extras").mkdir(), (r / "extras/notes.txt").write_text("x")), "tree.stray-entry"),
    # open: the folder is a result of its own, refused (its siblings are not)
    ("stray-dir-in-benchmark", lambda r: ((S(r).parent / "notes").mkdir(), (S(r).parent / "notes/a.txt").write_text("x")), "scenario.unknown"),
    ("stray-dir-in-scenario", lambda r: ((S(r) / "logs").mkdir(), (S(r) / "logs/a.txt").write_text("x")), "tree.stray-dir"),
    # open does not hold a benchmark to its scenario list: the Offline log cannot stand for Interactive
    ("scenario-not-of-benchmark", lambda r: shutil.copytree(S(r), S(r).parent / "Interactive"), "perf.scenario-mismatch"),
    ("system-dir-is-a-file", _replace_with_file(lambda r: submitter_dir(r) / "results" / treegen.SYSTEM), "tree.stray-entry"),
    ("hidden-file", lambda r: (S(r) / ".DS_Store").write_bytes(b"\x00"), "tree.hidden"),
    ("file-over-50mb", _sparse_big, "tree.large-file"),
    ("symlink", lambda r: (submitter_dir(r) / "src/link.md").symlink_to("README.md"), "tree.symlink"),
    ("space-in-name", write("src/my notes.txt"), "tree.space-in-name"),
    ("empty-dir", lambda r: (submitter_dir(r) / "src/empty").mkdir(), "tree.empty-dir"),
    ("pycache", write("src/__pycache__/x.pyc"), "tree.pycache"),
    ("src-missing", _rm(lambda r: submitter_dir(r) / "src"), "tree.src-missing"),
    ("bad-model-mapping", write("model_mapping.json", b"[1, 2]"), "bench.unknown"),  # and a mapping.bad-json warning
    ("mapping-to-unknown-benchmark", write("model_mapping.json", b'{"tinynet-int8": "resnet9000"}'), "mapping.unknown-target"),
    ("model-mapping-missing", _rm(lambda r: submitter_dir(r) / "model_mapping.json"), "bench.unknown"),
    ("empty-tree", _empty_tree, "tree.empty"),
    ("closed-without-calibration", _to_closed, "tree.calibration-missing"),
]


def test_there_are_at_least_forty_mutations() -> None:
    assert len(MUTATIONS) >= 40
    assert len({m[0] for m in MUTATIONS}) == len(MUTATIONS)
    for _, _, rule in MUTATIONS:
        assert rule in RULES


def test_generated_smoke_tree_passes(tree: Path) -> None:
    report = check_tree(tree)
    assert report.smoke is True
    assert report.round == treegen.ROUND
    assert report.errors == [], [f"{f.rule_id} {f.path} {f.message}" for f in report.errors]
    assert report.ok
    assert {r.scenario for r in report.results} == set(treegen.SCENARIOS)
    assert all(r.validity == "VALID" and r.official_benchmark == "resnet" for r in report.results)
    assert all(r.accuracy == "acc=80" for r in report.results)
    infos = [f for f in report.findings if f.severity == "info"]
    assert infos and all(f.rule_id == "perf.min-duration" for f in infos)
    assert "smoke run" in infos[0].message and "never submittable" in infos[0].message


def test_smoke_tree_as_submission_fails_only_on_duration(tree: Path) -> None:
    # strict: the generated tree is open, where audit-test findings are warnings otherwise
    smoke = check_tree(tree, strict=True)
    real = check_tree(tree, as_submission=True, strict=True)
    assert not real.ok
    assert {f.rule_id for f in real.errors} == {"perf.min-duration"}
    # Nothing else changes: the same findings, only the severity of the duration rule.
    assert [(f.rule_id, f.path) for f in smoke.findings] == [(f.rule_id, f.path) for f in real.findings]
    # every performance run (3 results + TEST01 + TEST04 each) is too short
    assert len(real.errors) == 3 * 3


@pytest.mark.parametrize("name,mutate,rule", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutated_tree_fails_with_rule(tree: Path, name: str, mutate: Callable[[Path], None], rule: str) -> None:
    mutate(tree)
    # strict: hygiene, and what the open division gets wrong in audit tests, count as errors
    report = check_tree(tree, strict=True)
    ids = report.rule_ids()
    assert not report.ok
    assert rule in ids, sorted(ids)
    assert "check.internal" not in ids, [f.message for f in report.findings if f.rule_id == "check.internal"]
    assert any(f.rule_id == rule and f.severity == "error" for f in report.findings)


def test_one_broken_result_does_not_hide_the_others(tree: Path) -> None:
    (perf(tree) / "mlperf_log_detail.txt").write_bytes(os.urandom(2048))
    report = check_tree(tree)
    valid = [r for r in report.results if r.validity == "VALID"]
    assert {r.scenario for r in valid} == {"SingleStream", "MultiStream"}


def test_round_comes_from_the_smoke_marker(tree: Path) -> None:
    (tree / "SMOKE_TREE.txt").write_text("smoke profile\nround: v6.0\n")
    assert check_tree(tree).round == "v6.0"
    assert check_tree(tree, round="v6.1").round == "v6.1"


def test_rule_table_lists_every_rule_once() -> None:
    table = rule_table()
    ids = [row[0] for row in table]
    assert len(ids) == len(set(ids)) == len(RULES)
    assert all(sev in ("error", "warning", "info") and summary for _, sev, summary in table)
    for needed in ("tree.empty", "tree.stray-dir", "system.missing-key", "perf.min-duration", "perf.invalid",
                   "perf.seed-mismatch", "acc.dataset-size", "acc.untruncated", "compliance.test01-fail"):
        assert needed in ids


def test_folders_nested_deeper_than_pythons_recursion_limit(tree: Path) -> None:
    # os.walk recursed: 1500 nested folders raised RecursionError out of check. Made and
    # removed one folder at a time here: pathlib's mkdir(parents=True) and shutil.rmtree
    # (pytest's own cleanup too) recurse as well.
    top = submitter_dir(tree) / "src" / "d"
    chain = [top / ("d/" * i) for i in range(1500)]
    try:
        for folder in chain:
            os.mkdir(folder)
        report = check_tree(tree)
        deep = [f for f in report.findings if f.rule_id == "tree.empty-dir"]
        assert [f.path for f in deep] == [chain[-1].relative_to(tree).as_posix()]
        assert not [f for f in report.findings if f.rule_id == "check.internal"]
    finally:
        for folder in reversed(chain):
            if folder.is_dir():
                os.rmdir(folder)


@pytest.mark.parametrize("kind,rule", [("fifo", "tree.stray-entry"), ("dir", "tree.stray-entry"),
                                       ("link-loop", "files.missing"), ("link-to-file", None)])
def test_a_log_that_is_not_a_plain_file(tree: Path, kind: str, rule: str | None) -> None:
    """The logs are opened without a stat first: a FIFO must not block the check (it runs in
    a child with a time limit), a directory or a loop of links must not pass for a log."""
    import subprocess

    log = perf(tree) / "mlperf_log_detail.txt"
    if kind == "link-to-file":
        os.replace(log, tree / "elsewhere.txt")
        log.symlink_to(tree / "elsewhere.txt")
    else:
        log.unlink()
        {"fifo": os.mkfifo, "dir": os.mkdir, "link-loop": lambda p: os.symlink(p.name, p)}[kind](log)
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "check", str(tree), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    doc = json.loads(done.stdout)
    at_log = {(f["rule_id"], f["severity"]) for f in doc["findings"]
              if f["path"].endswith("Offline/performance/run_1/mlperf_log_detail.txt")}
    if rule is None:  # read through the link (its duration is judged); hygiene reports the link
        assert {("perf.min-duration", "info"), ("tree.symlink", "warning")} <= at_log, at_log
    else:
        assert (rule, "error") in at_log and ("perf.min-duration", "info") not in at_log, at_log
    assert not any(f["rule_id"] == "check.internal" for f in doc["findings"])


def test_files_read_by_the_result_checks_are_scanned_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets in files the result checks read are found from the bytes they read; the
    report is the one of a walk that reads and scans every file itself."""
    from mlperf_ops import secretscan
    from mlperf_ops.check import scenario

    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    planted = 0
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and p.suffix != ".json"):  # JSON stays JSON
        data = path.read_bytes()
        if path.name == "mlperf_log_detail.txt":  # a token inside an event of the log
            data = data.replace(b"\n", b'\n:::MLLOG {"key": "note", "value": "%s"}\n' % token.encode(), 1)
        else:
            data += b"\nnote=%s\n" % token.encode()
        path.write_bytes(data)
        planted += 1
    opened: list[str] = []
    real_scan_file = secretscan.scan_file
    monkeypatch.setattr(secretscan, "scan_file", lambda path, *a: (opened.append(str(path)), real_scan_file(path, *a))[1])
    once = check_tree(tree, strict=True)
    walk_read = len(opened)
    real_read_bytes = scenario.read_bytes

    def read_unscanned(ctx: Any, path: Path) -> bytes | None:  # the result checks scan nothing
        data = real_read_bytes(ctx, path)
        ctx.scanned.pop(ctx.rel(path), None)
        return data

    monkeypatch.setattr(scenario, "read_bytes", read_unscanned)
    opened.clear()
    twice = check_tree(tree, strict=True)
    assert len(opened) > walk_read  # the walk read only the files no check read
    assert walk_read < planted / 2
    assert once.findings == twice.findings
    secrets = [f for f in once.findings if f.rule_id == "tree.secret"]
    assert len(secrets) == planted
