#!/usr/bin/env bash
# Make sure a Docker engine answers, installing and starting one when we are allowed to.
#
# Fresh machines and CI start with only a Docker *client* and no systemd, so `service docker
# start` does nothing: we install docker.io from Debian/Ubuntu and start dockerd ourselves in
# the background, logging to $MLPERF_OPS_DOCKERD_LOG. Safe to run any number of times: when
# `docker info` already answers it exits 0 at once.
#
# Exit codes: 0 engine answers; 1 it does not and we cannot start it (the reason and what to
# do are printed on stderr).
set -euo pipefail

DOCKERD_LOG="${MLPERF_OPS_DOCKERD_LOG:-/var/log/mlperf-ops-dockerd.log}"
WAIT_SECONDS="${MLPERF_OPS_DOCKERD_WAIT:-30}"

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

engine_answers() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

if engine_answers; then
    exit 0
fi

explain_and_fail() {
    say "no Docker engine answers${DOCKER_HOST:+ at DOCKER_HOST=$DOCKER_HOST}: $1"
    cat >&2 <<'EOF'
What to do:
  - Docker Desktop (macOS/Windows): start Docker Desktop and wait until it says "running".
  - Linux with systemd: sudo systemctl start docker
  - "permission denied" on /var/run/docker.sock: sudo usermod -aG docker "$USER", then log in again.
  - A remote or rootless engine: export DOCKER_HOST=unix:///run/user/$UID/docker.sock (or tcp://HOST:2376).
  - Debian/Ubuntu as root without systemd (CI, containers): run this script as root and it
    installs docker.io and starts dockerd itself.
EOF
    exit 1
}

# A DOCKER_HOST that points elsewhere is the user's explicit choice: starting a local daemon
# would not make that one answer.
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]]; then
    explain_and_fail "DOCKER_HOST points to an engine that is not ours to start"
fi

if [[ "$(id -u)" -ne 0 ]]; then
    explain_and_fail "not root, so this script cannot install or start dockerd"
fi

if [[ ! -r /etc/os-release ]] || ! grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; then
    explain_and_fail "automatic install is only supported on Debian/Ubuntu"
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1 \
    || ! command -v runc >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1; then
    say "installing docker.io containerd runc iptables"
    export DEBIAN_FRONTEND=noninteractive
    # Only refresh the package lists when they are missing: `apt-get update` costs seconds.
    if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]]; then
        apt-get update -qq >&2
    fi
    if ! apt-get install -y -qq --no-install-recommends docker.io containerd runc iptables >&2; then
        # Stale lists (packages moved on the mirror): refresh once and try again.
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends docker.io containerd runc iptables >&2
    fi
fi

# A dockerd may already be starting (another invocation racing us): only start one if none runs.
if ! pgrep -x dockerd >/dev/null 2>&1; then
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid + nohup: the daemon must outlive this script and the shell that ran it.
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

deadline=$((SECONDS + WAIT_SECONDS))
until engine_answers; do
    if ((SECONDS >= deadline)); then
        say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        exit 1
    fi
    sleep 0.2
done
say "engine ready: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
