"""A real OpenAI-compatible server as a sidecar image: llama.cpp's (llama-cpp-python[server])
on the project's Debian base, for tests/test_llm_sidecar.py.

PyPI has llama-cpp-python only as source; scripts/build-llm-test-server.sh builds its wheel
once (~6.5 min on 2 cores) into ~/.cache/mlperf-ops/wheelhouse-llm. Its dependencies are
downloaded once beside it (pip, like every image's wheelhouse), as is the one Debian package
its shared libraries need that the base lacks (libgomp1: llama.cpp is built with OpenMP; apt,
from the base's own suite). The image is built offline from these and tagged by the hash of
its inputs, so a later session builds nothing.
The image is labelled managed: `mlperf-ops images prune` removes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlperf_ops.execute.engine import Engine
from mlperf_ops.stacks.images import default_cache_dir

REPO = Path(__file__).resolve().parents[2]
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"

DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS wheels
COPY wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheelhouse "%s" \\
 && chmod -R a+rX /opt/venv

FROM ${BASE_IMAGE}
COPY debs/ /tmp/debs/
RUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs
COPY --from=wheels /opt/venv /opt/venv
# HOME=/tmp: the container runs as the caller's uid on a read-only root file system.
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin HOME=/tmp PYTHONUNBUFFERED=1
ENTRYPOINT ["python3", "-m", "llama_cpp.server"]
""" % LLAMA_CPP


def _wheelhouse() -> Path:
    cache = default_cache_dir()
    house = cache / "wheelhouse-llm"
    if not list(house.glob("llama_cpp_python-*.whl")):
        venv = Path(sys.executable).parents[1]
        subprocess.run(["bash", str(REPO / "scripts/build-llm-test-server.sh"), str(venv)], check=True,
                       timeout=1800)
    deps = cache / "wheelhouse-llm-sidecar"
    done = deps / ".complete"
    if not done.is_file():
        # The base image's Python is this interpreter's (3.11, glibc 2.36): the same wheels fit.
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(deps),
                        "--only-binary", ":all:", "--find-links", str(house), LLAMA_CPP], check=True, timeout=900)
        debs = deps / "debs"
        debs.mkdir(exist_ok=True)
        subprocess.run(["apt-get", "download", "libgomp1"], cwd=debs, check=True, timeout=300,
                       capture_output=True)
        done.write_text("")
    return deps


def ensure_sidecar_image(engine: Engine, base_image: str, work: Path) -> str:
    deps = _wheelhouse()
    wheels = sorted(deps.glob("*.whl"))
    debs = sorted((deps / "debs").glob("*.deb"))
    inputs = DOCKERFILE + base_image + "".join(w.name for w in wheels + debs)
    digest = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    tag = f"mlperf-ops/test-llm-sidecar:{digest}"
    if engine.image_info(tag) is not None:
        return tag
    context = work / "llm-sidecar-context"
    (context / "wheelhouse").mkdir(parents=True)
    (context / "debs").mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    for file, into in [(w, "wheelhouse") for w in wheels] + [(d, "debs") for d in debs]:
        try:
            os.link(file, context / into / file.name)
        except OSError:
            shutil.copy2(file, context / into / file.name)
    engine.build(context, tag, {"org.mlperf-ops.managed": "true", "org.mlperf-ops.stage": "test-llm-sidecar"},
                 {"BASE_IMAGE": base_image}, work / "llm-sidecar-build.log")
    return tag
