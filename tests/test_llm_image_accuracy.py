"""The llm-endpoint image scores an LLM accuracy log offline, as the reference evaluation does.

The image is built from its wheelhouse with no network, and the scorer runs in a container
with no network either (`--network none`, read-only root, an unprivileged uid): the Punkt
tables, the tokenizer libraries and numpy must all be in the image. It must print the line
the MLCommons reference scripts printed for tests/data/llm_scoring (see NOTE.md there).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.docker_fixtures import IMAGES_DIR
from mlperf_ops.stacks import images
from mlperf_ops.execute.engine import Engine

pytestmark = [pytest.mark.docker, pytest.mark.slow]
DATA = Path(__file__).parent / "data" / "llm_scoring"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize(("benchmark", "log", "tokenizer"), [
    ("llama3.1-8b", "accuracy_fast.json", "tokenizer_fast"),
    ("llama2-70b-99.9", "accuracy_sp.json", "tokenizer_sp"),
])
def test_the_image_scores_as_the_reference(engine: Engine, docker_labels: dict[str, str],
                                           benchmark: str, log: str, tokenizer: str) -> None:
    ref = images.ensure_image(engine, images.load_target(IMAGES_DIR, "llm-endpoint"))
    labels = [arg for key, value in docker_labels.items() for arg in ("--label", f"{key}={value}")]
    command = ["docker", "run", "--rm", *labels, "--network", "none", "--read-only", "--tmpfs", "/tmp",
               "--user", "65534:65534", "--cap-drop", "ALL", "-v", f"{DATA}:/data:ro", ref.tag,
               "python3", "-m", "harness.llm", "accuracy", "--benchmark", benchmark, "--log", f"/data/{log}",
               "--dataset", "/data/dataset.json", "--tokenizer", f"/data/{tokenizer}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == EXPECTED[benchmark]["printed"], done.stdout + done.stderr
