#!/usr/bin/env bash
# Builds the operator image for the node tier without any registry, and prints its tag:
# a Debian bookworm base made with debootstrap (once; `hpo-base:dev` in the local Docker), then
# `docker build --build-arg PYTHON_IMAGE=hpo-base:dev` of the repository's Dockerfile.
# Stand-in until hack/base-image.sh (the shared base image builder) lands: then call that instead.
# The Debian mirror is read from this machine's apt sources, never written down here.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=${HPO_BASE_IMAGE:-hpo-base:dev}
tag=${HPO_NODE_IMAGE_TAG:-hpo-operator:test}

if ! docker image inspect "$base" >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || { echo "no Debian mirror in this machine's apt sources" >&2; exit 1; }
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "building $base with debootstrap (once)" >&2
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$root" "$mirror" >&2
  # pip inside `docker build` reaches the package index through this machine's CA bundle.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
  tar -C "$root" -c . | docker import - "$base" >&2
fi
docker build -q --network host --build-arg PYTHON_IMAGE="$base" -t "$tag" "$repo" >&2
echo "$tag"
