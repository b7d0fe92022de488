"""`mlperf-ops upload` and `mlperf-ops dev-portal` as subprocesses: exit codes, output,
and that neither the submitter id nor a signed URL's signature ever appears in stdout,
stderr or a receipt file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mlperf_ops.ship.devportal import DevPortal, FaultPlan
from tests.support.upload_support import SUBMITTER, SUBMITTER_ID, make_tarball, sha256_of, start_portal


def _run(args: list[str], tmp_path: Path, *, env_id: str | None = SUBMITTER_ID,
         id_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLPERF_SUBMITTER_ID", "MLPERF_SUBMITTER_ID_FILE", "MLPERF_OPS_PORTAL_URL")}
    env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "CI": "true"})
    if env_id is not None:
        env["MLPERF_SUBMITTER_ID"] = env_id
    if id_file is not None:
        env["MLPERF_SUBMITTER_ID_FILE"] = str(id_file)
    return subprocess.run([sys.executable, "-m", "mlperf_ops", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def _assert_no_secrets(result: subprocess.CompletedProcess[str], state: Path, server: DevPortal,
                       secret: str = SUBMITTER_ID) -> None:
    texts = [result.stdout, result.stderr]
    texts += [p.read_text() for p in (state / "receipts").glob("*.json")] if state.exists() else []
    signatures = [url.split("signature=")[1] for url in server.signed_urls]
    for text in texts:
        assert secret not in text
        assert "signature=" not in text and "expires=" not in text
        for signature in signatures:
            assert signature not in text


def test_cli_upload_with_retries_and_refresh_leaks_nothing(tmp_path: Path) -> None:
    server = start_portal(tmp_path, FaultPlan(fail_url=1, fail_put=1, expire_first=1))
    try:
        tarball = make_tarball(tmp_path / "dist")
        state = tmp_path / "state"
        result = _run(["upload", str(tarball), "--portal-url", server.url, "--no-check",
                       "--state-dir", str(state)], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "retrying" in result.stderr and "new upload URL" in result.stderr
        assert "uploaded" in result.stdout and server.uploads[SUBMITTER].sha256 == sha256_of(tarball)
        assert len(server.signed_urls) == 2
        _assert_no_secrets(result, state, server)
        [receipt] = [json.loads(p.read_text()) for p in (state / "receipts").glob("*.json")]
        assert receipt["result"] == "ok" and receipt["check"] == {"ran": False}

        calls_before = server.calls
        assert calls_before == {"url": 3, "put": 3, "check": 1}  # 503, expired URL, 503 on PUT
        again = _run(["upload", str(tarball), "--portal-url", server.url, "--no-check",
                      "--state-dir", str(state), "--json"], tmp_path)
        assert again.returncode == 0 and json.loads(again.stdout)["result"] == "already-uploaded"
        assert server.calls == calls_before  # the no-op sent nothing
    finally:
        server.stop()


def test_cli_dry_run_prints_masked_requests_and_sends_nothing(tmp_path: Path) -> None:
    server = start_portal(tmp_path)
    try:
        tarball = make_tarball(tmp_path / "dist")
        # the portal URL comes from MLPERF_OPS_PORTAL_URL here
        result = subprocess.run(
            [sys.executable, "-m", "mlperf_ops", "upload", str(tarball), "--dry-run", "--no-check",
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
            env={**os.environ, "MLPERF_SUBMITTER_ID": SUBMITTER_ID, "MLPERF_OPS_PORTAL_URL": server.url},
        )
        assert result.returncode == 0, result.stderr
        assert server.calls == {}
        assert f"POST {server.url}/index/url" in result.stdout and "PUT <signed_url" in result.stdout
        assert "submitter_id=***" in result.stdout and sha256_of(tarball) in result.stdout
        _assert_no_secrets(result, tmp_path / "state", server)
        assert not (tmp_path / "state" / "receipts").exists()
    finally:
        server.stop()


def test_cli_wrong_id_from_file_fails_without_echoing_it(tmp_path: Path) -> None:
    server = start_portal(tmp_path)
    try:
        wrong = "sid-wrong-" + "5" * 20
        id_file = tmp_path / "id"
        id_file.write_text(wrong + "\n")
        result = _run(["upload", str(make_tarball(tmp_path / "dist")), "--portal-url", server.url,
                       "--no-check", "--state-dir", str(tmp_path / "state")], tmp_path,
                      env_id=None, id_file=id_file)
        assert result.returncode == 1
        assert "refused the submitter id" in result.stderr and "Traceback" not in result.stderr
        _assert_no_secrets(result, tmp_path / "state", server, secret=wrong)
        assert server.calls == {"url": 1}
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("kind", "code", "text"),
    [("smoke", 3, "smoke"), ("no-id", 2, "MLPERF_SUBMITTER_ID"), ("mismatch", 2, "maps this submitter id")],
)
def test_cli_refusals_have_documented_exit_codes(tmp_path: Path, kind: str, code: int, text: str) -> None:
    server = start_portal(tmp_path)
    try:
        tarball = make_tarball(tmp_path / "dist", smoke=kind == "smoke",
                               submitter="globex" if kind == "mismatch" else SUBMITTER)
        # A smoke tarball is refused by a real portal only; the refusal comes before any
        # request, so a name that resolves nowhere stands for it (nothing is sent).
        url = "https://portal.invalid" if kind == "smoke" else server.url
        result = _run(["upload", str(tarball), "--portal-url", url, "--no-check", "--force",
                       "--state-dir", str(tmp_path / "state")], tmp_path,
                      env_id=None if kind == "no-id" else SUBMITTER_ID)
        assert result.returncode == code, result.stderr
        assert text in result.stderr and "Traceback" not in result.stderr
        if kind == "smoke":
            assert "mlperf-ops dev-portal" in result.stderr  # says how to rehearse it
        assert server.calls.get("put", 0) == 0
        _assert_no_secrets(result, tmp_path / "state", server)
    finally:
        server.stop()


def test_dev_portal_command_serves_on_loopback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_SUBMITTER_ID")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlperf_ops", "dev-portal", "--storage", str(tmp_path / "st"),
         "--submitter-name", "acme"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split("listening on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/_devportal/state", timeout=10) as answer:  # loopback only
            state = json.loads(answer.read())
        assert state["calls"] == {} and state["uploads"] == {}
        id_file = tmp_path / "st" / "submitter_id"
        assert id_file.stat().st_mode & 0o077 == 0
        tarball = make_tarball(tmp_path / "dist")
        result = _run(["upload", str(tarball), "--portal-url", url, "--no-check",
                       "--state-dir", str(tmp_path / "state")], tmp_path, env_id=None, id_file=id_file)
        assert result.returncode == 0, result.stderr
        assert id_file.read_text().strip() not in result.stdout + result.stderr
        assert (tmp_path / "st" / "acme" / tarball.name).read_bytes() == tarball.read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_runs_the_real_checker_on_an_unpacked_copy(tmp_path: Path) -> None:
    server = start_portal(tmp_path)
    try:
        tarball = make_tarball(tmp_path / "dist")  # a skeleton: the checker must reject it
        args = ["upload", str(tarball), "--portal-url", server.url, "--state-dir", str(tmp_path / "state")]
        refused = _run(args, tmp_path)
        assert refused.returncode == 3, refused.stderr
        assert "does not pass the submission check" in refused.stderr and server.calls == {}
        forced = _run([*args, "--force", "--json"], tmp_path)
        assert forced.returncode == 0, forced.stderr
        check = json.loads(forced.stdout)["check"]
        assert check["ran"] is True and check["ok"] is False and check["forced"] is True
        assert check["checker"].startswith("mlperf_ops.check")
    finally:
        server.stop()


def test_smoke_tarball_rehearses_on_the_dev_portal_and_dry_runs_for_the_real_one(tmp_path: Path) -> None:
    """What `make submission` packs can be tried end to end: the dev portal's default
    submitter is the demo's, and a dry run against the real portal shows the requests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_SUBMITTER_ID")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlperf_ops", "dev-portal", "--storage", str(tmp_path / "st")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split("listening on ")[1].split()[0]
        tarball = make_tarball(tmp_path / "dist", smoke=True, submitter="MLPerfOpsDemo")
        id_file = tmp_path / "st" / "submitter_id"
        trial = _run(["upload", str(tarball), "--portal-url", url, "--no-check",
                      "--state-dir", str(tmp_path / "state")], tmp_path, env_id=None, id_file=id_file)
        assert trial.returncode == 0, trial.stderr
        assert "smoke tree" in trial.stderr and "trial upload" in trial.stderr
        assert (tmp_path / "st" / "MLPerfOpsDemo" / tarball.name).read_bytes() == tarball.read_bytes()
        dry = _run(["upload", str(tarball), "--portal-url", "https://portal.invalid", "--no-check", "--dry-run",
                    "--state-dir", str(tmp_path / "state2")], tmp_path, env_id=None)
        assert dry.returncode == 0, dry.stderr
        assert "a real portal would refuse it" in dry.stderr and "portal.invalid" in dry.stdout
    finally:
        process.terminate()
        process.wait(timeout=10)
