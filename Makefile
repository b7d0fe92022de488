# mlperf-ops: the same verbs locally and in CI.
#   make submission   set up everything, then apply → assemble → check → pack the demo manifest
#   make test         set up everything, then run the test suite
# Override: make submission MANIFEST=manifests/demo-singlestream.yaml PIPELINE=submission

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
MLPERF   := $(BIN)/mlperf-ops
MANIFEST ?= manifests/demo.yaml
PIPELINE ?=
STATE    ?= $(or $(MLPERF_OPS_STATE),.mlperf-ops)
DIST     ?= dist
TARGETS  ?= cpu
PYTEST_ARGS ?=

PIPELINE_FLAG := $(if $(PIPELINE),--pipeline $(PIPELINE),)
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MLPERF_OPS_STATE := $(STATE)

.PHONY: help setup venv venv-runtime engine images test test-fast submission validate plan apply status assemble check pack \
        report bench lint lock clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

setup: venv-runtime engine images ## virtualenv (runtime), Docker engine and the cpu image (idempotent)

# Two locks: requirements.lock pins what `mlperf-ops` needs to run (what CI jobs that only
# plan, check or pack install, and what a submitter's machine needs); requirements-dev.lock
# adds the test, lint and host-side harness tools on top, with the same pins.
venv-runtime: $(VENV)/.runtime ## create .venv with the runtime dependencies only
$(VENV)/.runtime: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(VENV)/.installed ## .venv with the runtime and the development dependencies
$(VENV)/.installed: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@touch $@

engine: ## make sure a Docker engine answers (installs and starts one on Debian/Ubuntu as root)
	bash scripts/ensure-docker.sh

# The demo's model and data set are made in the cpu image; manifests/demo.yaml names them
# in build/demo/ (copied again only when the image changed).
images: venv-runtime engine ## build the images the demo needs, copy the demo's files to build/demo (no-op when up to date)
	$(MLPERF) images build $(TARGETS)
	$(MLPERF) images export-demo --out build/demo

test: setup venv ## run the whole test suite (needs Docker: `make setup` brings it)
	bash scripts/ensure-test-tools.sh
	bash scripts/build-llm-test-server.sh $(VENV)
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv ## unit tests only (no Docker)
	$(BIN)/pytest -m "not docker" $(PYTEST_ARGS)

validate: venv-runtime ## validate every manifest
	$(MLPERF) validate manifests/*.yaml

plan: venv-runtime ## what apply would run, and why
	$(MLPERF) plan $(MANIFEST) $(PIPELINE_FLAG)

apply: setup ## run pending runs in containers
	$(MLPERF) apply $(MANIFEST) $(PIPELINE_FLAG)

status: venv-runtime
	$(MLPERF) status $(MANIFEST) $(PIPELINE_FLAG)

assemble: venv-runtime
	$(MLPERF) assemble $(MANIFEST) $(PIPELINE_FLAG) --out $(DIST)/submission

check: venv-runtime
	$(MLPERF) check --strict $(DIST)/submission

pack: venv-runtime
	$(MLPERF) pack $(DIST)/submission --out $(DIST)

report: venv-runtime
	$(MLPERF) report $(DIST)/submission --out $(DIST)/report.html

submission: setup ## apply → assemble → check → pack, then a summary
	$(MLPERF) apply $(MANIFEST) $(PIPELINE_FLAG)
	$(MLPERF) assemble $(MANIFEST) $(PIPELINE_FLAG) --out $(DIST)/submission
	$(MLPERF) check --strict $(DIST)/submission
	$(MLPERF) pack $(DIST)/submission --out $(DIST)
	$(MLPERF) report $(DIST)/submission --out $(DIST)/report.html
	$(MLPERF) summary --dist $(DIST)

bench: setup venv ## performance figures, each as a ratio against a baseline measured in the same run
	$(BIN)/python bench/run.py

lint: venv ## types and Dockerfiles
	$(BIN)/mypy
	$(BIN)/hadolint images/*/Dockerfile

lock: ## re-pin requirements.lock (runtime) and requirements-dev.lock from fresh resolver runs
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet .
	.lock-venv/bin/pip freeze --exclude mlperf-ops | sort -f > requirements.lock
	.lock-venv/bin/pip install --quiet -c requirements.lock '.[dev]'
	.lock-venv/bin/pip freeze --exclude mlperf-ops | sort -f > requirements-dev.lock
	rm -rf .lock-venv

clean: ## remove build outputs (keeps the ledger in $(STATE))
	rm -rf $(DIST) .pytest_cache .mypy_cache
