"""Fixtures for tests that talk to a real Docker engine (load with `pytest_plugins`).

Docker tests never skip: a missing engine is a failure with the way to start one, because CI
installs an engine and a silently skipped isolation test proves nothing.
Every object a test makes carries `org.mlperf-ops.test=<id>` so cleanup removes only its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from mlperf_ops.stacks import images
from mlperf_ops.execute.engine import Engine
from mlperf_ops.core.errors import EngineUnavailable

TEST_LABEL = "org.mlperf-ops.test"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = PROJECT_ROOT / "images"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        connected = Engine.connect()
    except EngineUnavailable as error:
        pytest.fail(f"{error.message}\nstart one with: bash scripts/ensure-docker.sh", pytrace=False)
    yield connected
    connected.close()


@pytest.fixture(scope="session")
def session_labels(engine: Engine) -> Iterator[dict[str, str]]:
    """Labels for objects shared by the whole session; removed at its end."""
    labels = {TEST_LABEL: f"session-{uuid.uuid4().hex[:12]}"}
    yield labels
    engine.prune("all", labels)


@pytest.fixture()
def docker_labels(engine: Engine) -> Iterator[dict[str, str]]:
    """Labels for one test's containers/images; whatever carries them is removed afterwards."""
    labels = {TEST_LABEL: uuid.uuid4().hex[:12]}
    yield labels
    engine.prune("all", labels)


@pytest.fixture(scope="session")
def base_image(engine: Engine) -> str:
    """The project's debootstrap base (built once per recipe; ~1 min the first time)."""
    recipe = images.load_rootfs(IMAGES_DIR, "base")
    return images.ensure_base(engine, recipe, images.BuildSettings()).tag


@pytest.fixture(scope="session")
def probe_image(engine: Engine, base_image: str, session_labels: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny image built FROM the base: cheap, exercises Engine.build, and carries a probe."""
    context = tmp_path_factory.mktemp("probe-context")
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
        "COPY probe.py /opt/probe/probe.py\n"
        "RUN chmod -R a+rX /opt/probe\n"
    )
    (context / "probe.py").write_text(PROBE_SOURCE)
    tag = f"mlperf-ops/test-probe:{session_labels[TEST_LABEL]}"
    engine.build(context, tag, {"org.mlperf-ops.managed": "true", **session_labels},
                 {"BASE_IMAGE": base_image}, context / "build.log")
    return tag


# Run inside containers as `python3 /opt/probe/probe.py CHECK [ARG]`; prints facts, exits 0/1.
PROBE_SOURCE = '''
import os, socket, sys

check = sys.argv[1]
if check == "connect":
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", int(sys.argv[2])))
    except OSError as error:
        print("connect failed:", type(error).__name__, error)
        sys.exit(1)
    print("connected")
elif check == "interfaces":
    print("interfaces:", " ".join(sorted(os.listdir("/sys/class/net"))))
elif check == "status":
    for line in open("/proc/self/status"):
        if line.startswith(("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Uid", "Gid")):
            print(line.strip())
elif check == "write-root":
    try:
        open("/etc/probe-was-here", "w").write("x")
    except OSError as error:
        print("root write failed:", error)
        sys.exit(1)
    print("root write ok")
elif check == "write-tmp":
    open("/tmp/probe", "w").write("x")
    print("tmp write ok")
elif check == "hog":
    chunks = []
    for _ in range(64):
        chunks.append(bytearray(16 * 1024 * 1024))  # touched: bytearray zero-fills
    print("allocated", len(chunks) * 16, "MiB")
elif check == "write-out":
    path = os.path.join(sys.argv[2], "result.txt")
    with open(path, "w") as handle:
        handle.write("result\\n")
    print("wrote", path)
elif check == "env":
    for key in sorted(os.environ):
        print("ENV", key)
elif check == "lines":
    for i in range(5):
        print("line", i, flush=True)
'''


def export_demo_files(repo: Path, env: dict[str, str]) -> None:
    """The demo's model and data set in build/demo/, as `make images` leaves them (demo.yaml names them)."""
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "images", "export-demo", "--out", "build/demo"],
                          capture_output=True, text=True, env=env, cwd=repo, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def demo_ledger(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One state directory with the real demo applied (smoke profile, a few minutes), shared
    by the tests that need a demo ledger: the acceptance test reads it, the README-sequence
    and workflow tests start from it as a runner's persistent ledger would.

    --keep-going so that one failed run does not hide the state of all the others."""
    repo = Path(__file__).resolve().parents[2]
    state = tmp_path_factory.mktemp("demo-ledger") / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", PYTHONUNBUFFERED="1")
    export_demo_files(repo, env)
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "apply", str(repo / "manifests" / "demo.yaml"),
                           "--state-dir", str(state), "--keep-going"],
                          capture_output=True, text=True, env=env, cwd=repo, timeout=2400, check=False)
    return state, done
