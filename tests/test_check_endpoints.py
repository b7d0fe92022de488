"""`check` on results of the MLCommons endpoints harness: what the variants against the
official checker (test_check_variants_v61, `endpoints_*`; test_check_variants_v61_llm) do not reach.

Each test starts from the published Atlas_Inference qwen3.6-27b result
(tests/data/real_trees/atlas_v6.1) with a README.md of ours, the one file its stored copy
lacks, and moves or changes it: another benchmark, another round, the audit files of a
benchmark with compliance tests, and files no harness writes (an alias bomb, a nesting
deeper than Python's stack, bytes that are not UTF-8). The last starts from NVIDIA's
deepseek-r1 (tests/data/real_trees/nvidia_vr_v6.1) and writes its tokens per second as
something other than a number. Every one gets findings, none a crash, in bounded time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mlperf_ops.check import check_tree  # noqa: E402
from mlperf_ops.check.findings import CheckReport  # noqa: E402
from tests.support.variants import copy_excerpt, replace_text  # noqa: E402

CORPUS = Path(__file__).parent / "data" / "real_trees" / "atlas_v6.1" / "tree"
SYSTEM = "closed/Atlas_Inference/results/Strix_Halo"
QWEN = f"{SYSTEM}/qwen3.6-27b/SingleStream"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(CORPUS, root)
    (root / QWEN / "README.md").write_text("written by tests/test_check_endpoints.py\n")
    return root


def _rules_of(report: CheckReport, result: str) -> set[str]:
    row = next(r for r in report.results if r.path == result)
    return {f["rule_id"] for f in row.reasons}


def test_the_round_names_the_files_the_layout_knows() -> None:
    """Which folder is an endpoints result (core/tree_layout) and what its checks read (the
    round's rules) name the same files."""
    from mlperf_ops.core.tree_layout import ENDPOINTS_CONFIG_FILES, ENDPOINTS_FILES
    from mlperf_ops.rules import load_rules

    tables = load_rules("v6.1").endpoints
    assert tables is not None
    assert (tables.performance_file, tables.accuracy_file) == ENDPOINTS_FILES
    assert tables.config_files == ENDPOINTS_CONFIG_FILES


def test_the_published_result_is_accepted_with_its_value(tmp_path: Path) -> None:
    report = check_tree(_tree(tmp_path), round="v6.1")
    row = next(r for r in report.results if r.path == QWEN)
    assert row.valid, row.reasons
    assert row.log_format == "endpoints" and row.unit == "Latency (ms)"
    assert row.official_value == pytest.approx(7058.989199685204)
    assert row.accuracy == "score=0.862312"
    # the score is reported as read: the round holds only qwen3-vl's to a target
    assert "acc.endpoints-score" in report.rule_ids()


def test_a_benchmark_the_round_takes_from_loadgen_only(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / SYSTEM / "qwen3.6-27b").rename(root / SYSTEM / "yolo-99")
    report = check_tree(root, round="v6.1")
    assert "perf.endpoints-model" in _rules_of(report, f"{SYSTEM}/yolo-99/SingleStream")


def test_a_round_without_the_endpoints_harness_names_the_format(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / SYSTEM / "qwen3.6-27b").rename(root / SYSTEM / "resnet")  # a v6.0 benchmark
    report = check_tree(root, round="v6.0")
    assert "check.internal" not in report.rule_ids()
    formats = [f for f in report.findings if f.rule_id == "perf.endpoints-format"]
    assert len(formats) == 1 and "v6.0" in formats[0].message


def test_the_audit_file_of_a_required_test04(tmp_path: Path) -> None:
    """wan-2.2-t2v-a14b needs TEST04; from the endpoints harness that is
    audit/audit_output_caching_test.json with its name and `passed`
    (compliance_check.py compliance_endpoints_check at b66003e1)."""
    root = _tree(tmp_path)
    (root / SYSTEM / "qwen3.6-27b").rename(root / SYSTEM / "wan-2.2-t2v-a14b")
    result = f"{SYSTEM}/wan-2.2-t2v-a14b/SingleStream"
    audit = root / result / "audit" / "audit_output_caching_test.json"

    def findings() -> list[tuple[str, str]]:
        report = check_tree(root, round="v6.1")
        return [(f.rule_id, f.path) for f in report.findings if f.rule_id.startswith("compliance.")]

    where = f"{result}/audit/audit_output_caching_test.json"
    assert findings() == [("compliance.missing", where)]
    audit.parent.mkdir()
    audit.write_text('{"test": "output_caching_test", "passed": true}')
    assert findings() == []
    audit.write_text('{"test": "output_caching_test", "passed": false}')
    assert findings() == [("compliance.test04-fail", where)]
    audit.write_text('{"test": "consistency_output_test", "passed": true}')
    assert findings() == [("compliance.test04-fail", where)]
    audit.write_text("not JSON")
    assert findings() == [("compliance.test04-fail", where)]


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


@pytest.mark.parametrize("where,data", [
    ("config.yaml", ALIAS_BOMB.encode()),
    ("config.yaml", b"type: online\n" + b"x: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
    ("config.yaml", b"type: \xff\xfe online\n"),
    ("performance/result_summary.json", b"[" * 100_000 + b"]" * 100_000),
    ("performance/result_summary.json", b"[1, 2, 3]"),
    ("accuracy/accuracy_results.json", b'{"accuracy_scores": '),
    ("config.yaml", b""),
    ("config.yaml", b"- type\n- online\n"),
], ids=["alias-bomb", "deep-yaml", "not-utf8", "deep-json", "json-list", "cut-json", "empty-yaml", "yaml-list"])
def test_files_no_harness_writes_get_a_finding(tmp_path: Path, where: str, data: bytes) -> None:
    root = _tree(tmp_path)
    (root / QWEN / where).write_bytes(data)
    report = check_tree(root, round="v6.1")
    assert "check.internal" not in report.rule_ids()
    found = [f for f in report.findings if f.rule_id == "perf.endpoints-unreadable"]
    assert [f.path for f in found] == [f"{QWEN}/{where}"]
    assert not next(r for r in report.results if r.path == QWEN).valid


DS_OFF = "closed/NVIDIA/results/VR-NVL72_VR-288GB_aarch64x72_TRT/deepseek-r1/Offline"
TPS = '  "tps": 1183326.8540322022,\n'


@pytest.mark.parametrize("tps", ['"1183326.85"', "true", "null", "[1183326.85]", '{"value": 1183326.85}'],
                         ids=["text", "flag", "null", "list", "mapping"])
def test_an_llm_tokens_per_second_that_is_no_number(tmp_path: Path, tps: str) -> None:
    """NVIDIA's deepseek-r1 Offline (nvidia_vr_v6.1) with its `tps` written as something
    other than a JSON number: no value in Tokens/s, one perf.missing-key, no crash; the
    samples per second it does have never stand in for it."""
    root = copy_excerpt("nvidia_vr_v6.1", tmp_path / "tree",
                        replace_text(f"{DS_OFF}/performance/result_summary.json", TPS, f'  "tps": {tps},\n'))
    report = check_tree(root, round="v6.1")
    assert "check.internal" not in report.rule_ids()
    row = next(r for r in report.results if r.path == DS_OFF)
    assert row.official_value is None and not row.valid
    assert [f.message for f in report.findings if f.rule_id == "perf.missing-key"] == [
        "the endpoints run has no tokens per second (`tps`): the value of an LLM's Offline result is in Tokens/s"]
