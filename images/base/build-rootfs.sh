#!/usr/bin/env bash
# Build the project's own base root file system with debootstrap and write it as a tar.
#
# Why: lab machines (and ours) often reach no container registry, but do reach a Debian
# mirror. A minbase rootfs imported with `docker import` gives every image a FROM that needs
# no registry. The recipe (suite, variant, packages, mirror) comes from images/base/image.yaml
# via mlperf_ops.stacks.images, which tags the imported image by the hash of that recipe.
#
# usage: build-rootfs.sh SUITE VARIANT INCLUDE(comma list) MIRROR OUT_TAR
# Needs root (debootstrap chroots and creates device nodes); installs debootstrap on
# Debian/Ubuntu when it is missing.
set -euo pipefail

if [[ $# -ne 5 ]]; then
    echo "usage: $0 SUITE VARIANT INCLUDE MIRROR OUT_TAR" >&2
    exit 2
fi
suite="$1" variant="$2" include="$3" mirror="$4" out_tar="$5"

if [[ "$(id -u)" -ne 0 ]]; then
    echo "build-rootfs: debootstrap needs root; run as root or build the base image on a machine where you are" >&2
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "build-rootfs: installing debootstrap" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends debootstrap >&2 \
        || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends debootstrap >&2; }
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/mlperf-ops-rootfs.XXXXXX")"
cleanup() { rm -rf --one-file-system "$workdir"; }
trap cleanup EXIT

rootfs="$workdir/rootfs"
debootstrap --variant="$variant" --include="$include" "$suite" "$rootfs" "$mirror" >&2

# Downloaded .debs and package lists are only useful to apt inside the image, which never
# reaches a mirror at build time anyway (wheels come from the host): dropping them cuts the
# image from ~289 MB to ~191 MB.
tar -C "$rootfs" --numeric-owner \
    --exclude='./var/cache/apt/archives/*.deb' \
    --exclude='./var/cache/apt/*.bin' \
    --exclude='./var/lib/apt/lists/*' \
    --exclude='./var/log/*' \
    -cf "$out_tar.partial" .
mv "$out_tar.partial" "$out_tar"
echo "build-rootfs: wrote $out_tar ($(du -h "$out_tar" | cut -f1))" >&2
