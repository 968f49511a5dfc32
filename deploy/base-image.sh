#!/usr/bin/env bash
# Builds a Debian bookworm image with python3 and python3-venv from Debian's archive
# (debootstrap + docker import), for machines that cannot pull python:3.12-slim.
# Usage: deploy/base-image.sh [TAG]   (default tradewind-base:bookworm). A tag already present
# is kept: delete it (docker rmi) to build again.
set -euo pipefail

tag="${1:-tradewind-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag: present"
    exit 0
fi
if ! command -v debootstrap >/dev/null; then
    echo "base image $tag: debootstrap is needed (apt-get install -y debootstrap)" >&2
    exit 1
fi

rootfs="$(mktemp -d /tmp/tradewind-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "base image $tag: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -30 "$rootfs.log" >&2
    exit 1
}
rm -f "$rootfs.log"
# What an image never uses: package lists and caches, documentation, locales.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "base image $tag: built ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
