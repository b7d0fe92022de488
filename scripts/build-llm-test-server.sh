#!/usr/bin/env bash
# The LLM endpoint harness is tested against a real OpenAI-compatible server:
# llama.cpp's, from `llama-cpp-python[server]`. PyPI has it only as source, and building
# it takes ~6.5 min on 2 cores, so the wheel is built once into a wheelhouse under
# ~/.cache/mlperf-ops and installed from there on every later run (seconds).
# Usage: scripts/build-llm-test-server.sh [VENV]   (default .venv)
set -euo pipefail

VERSION=0.3.36
VENV=${1:-.venv}
HOUSE=${MLPERF_OPS_CACHE_DIR:-$HOME/.cache/mlperf-ops}/wheelhouse-llm
PY=$VENV/bin/python

if "$PY" -c "import llama_cpp, llama_cpp.server, gguf; assert llama_cpp.__version__ == '$VERSION'" 2>/dev/null; then
    exit 0
fi
mkdir -p "$HOUSE"
if ! ls "$HOUSE"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
    echo "build-llm-test-server: building llama-cpp-python $VERSION once into $HOUSE (~6.5 min on 2 cores)" >&2
    # Portable code (no -march=native): the wheel is reused on other machines of this kind.
    # nice: the build must not disturb timing tests running beside it.
    CMAKE_ARGS="-DGGML_NATIVE=OFF" nice -n 19 "$PY" -m pip wheel --quiet --no-deps \
        --wheel-dir "$HOUSE" "llama-cpp-python==$VERSION"
fi
"$PY" -m pip install --quiet --prefer-binary --find-links "$HOUSE" "llama-cpp-python[server]==$VERSION" "gguf==0.19.0"
