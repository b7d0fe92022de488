"""The report rendered by a real headless Chromium: what a person would see.

Chromium is required (Debian: `apt-get install -y --no-install-recommends chromium
fonts-dejavu-core`); a missing browser FAILS these tests rather than skipping them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import treegen  # noqa: E402

from mlperf_ops.cli import main  # noqa: E402
from mlperf_ops.core.errors import EXIT_OK  # noqa: E402
from mlperf_ops.core.loadgen_log import parse_detail, parse_summary  # noqa: E402
from mlperf_ops.report import format_value  # noqa: E402

EVIL_NAME = "<script>document.title='pwned'</script>Edge box"
BROWSERS = ("chromium", "chromium-browser")
WINDOW = (1280, 2000)


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed: apt-get install -y --no-install-recommends chromium fonts-dejavu-core")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    # No network, no background services: the page must render from the file alone.
    cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tree, report.html) for a real smoke tree with a hostile system name and provenance."""
    base = tmp_path_factory.mktemp("browser")
    tree = treegen.copy_tree(base / "tree")
    system_json = treegen.submitter_dir(tree) / "systems" / f"{treegen.SYSTEM}.json"
    doc = json.loads(system_json.read_text())
    doc["system_name"] = EVIL_NAME
    system_json.write_text(json.dumps(doc))
    prov = {"tool": "mlperf-ops", "tool_version": "0.1.0", "round": "v6.1", "profile": "smoke",
            "submittable": False, "images": {"mlperf-ops/cpu:test": {"id": "sha256:" + "0f" * 32, "target": "cpu"}},
            "runs": [{"run_id": "r1", "key": "a" * 64, "status": "done", "loadgen_version": "6.0.17 @ x"}]}
    (treegen.submitter_dir(tree) / "src" / "mlperf_ops_provenance.json").write_text(json.dumps(prov))
    out = base / "report.html"
    assert main(["report", str(tree), "--out", str(out)]) == EXIT_OK
    return tree, out


@pytest.fixture(scope="module")
def dom(page: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    _, out = page
    return _chromium(["--dump-dom", out.as_uri()], tmp_path_factory.mktemp("profile")).stdout


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _row(dom: str, scenario: str) -> str:
    key = f"{treegen.SYSTEM}/{treegen.CUSTOM_MODEL}/{scenario}"
    m = re.search(rf'<tr class="result" data-key="{re.escape(key)}">(.*?)</tr>', dom, re.S)
    assert m, f"no results row for {key}"
    return m.group(1)


def test_results_table_shows_the_logged_values(page: tuple[Path, Path], dom: str) -> None:
    tree, _ = page
    offline = parse_summary(treegen.scenario_dir(tree, "Offline") / "performance/run_1/mlperf_log_summary.txt")
    row = _text(_row(dom, "Offline"))
    assert format_value(float(offline.fields["Samples per second"]), "samples/s") in row
    assert "VALID" in row and "TEST01 PASS" in row and "TEST04 PASS" in row
    single = parse_detail(treegen.scenario_dir(tree, "SingleStream") / "performance/run_1/mlperf_log_detail.txt")
    row = _text(_row(dom, "SingleStream"))
    assert format_value(single.values["early_stopping_latency_ss"] / 1e6, "ms") in row
    assert "met" in row and "acc = 80" in row and "open: not held to target" in row


def test_verdict_and_smoke_banner_are_shown(dom: str) -> None:
    assert re.search(r'<span class="verdict ok" id="verdict-badge">OK</span>', dom)
    banner = re.search(r'<div class="banner smoke" id="smoke-banner">(.*?)</div>', dom, re.S)
    assert banner and "never submittable" in banner.group(1)
    assert "<title>[SMOKE] ExampleOrg — MLPerf Inference v6.1 — open</title>" in dom


def test_hostile_system_name_is_text_not_script(dom: str) -> None:
    # Had the name been injected, the browser would have run it and changed the title.
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)  # type: ignore[union-attr]
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;Edge box" in dom
    assert "<script>document.title" not in dom


def test_svg_charts_are_rendered(dom: str) -> None:
    charts = re.findall(r'<svg class="chart" id="(latency|throughput)-\d+"', dom)
    assert sorted(charts) == ["latency", "latency", "throughput"]
    bars = re.findall(r'<rect class="bar( ref)?"[^>]*data-label="([^"]+)"', dom)
    labels = [label for _, label in bars]
    assert labels.count("p99.9") == 2 and labels.count("p50") == 2
    assert {"result", "TEST01 run", "TEST04 run", "expected QPS"} <= set(labels)
    assert "mlperf-ops/cpu:test" in dom and "sha256:" + "0f" * 32 in dom


def test_screenshot(page: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = page
    png = tmp_path / "report.png"
    _chromium([f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", out.as_uri()], tmp_path / "profile")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == WINDOW
    assert len(data) > 50_000  # a blank page compresses to a few KB; this one has text and charts
