#!/usr/bin/env bash
# Tools the test suite needs beyond Python and Docker: headless Chromium (the HTML
# report is checked in a real browser) and curl (the upload bench's baseline).
# Installs them from Debian/Ubuntu packages when run as root; otherwise says what to do.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-test-tools: missing ${need[*]}; install them with your package manager" >&2
    exit 1
fi
echo "ensure-test-tools: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
