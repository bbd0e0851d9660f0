#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's default base image (python:3.11-slim), since no image
# registry is reachable here: Debian bookworm (Python 3.11) by debootstrap, with python3, venv, pip
# and CA certificates, imported into Docker. Prints the image's tag; the tests pass it to
# `make image PYTHON_IMAGE=...`. Users keep the Dockerfile's default.
#
# - The Debian mirror is read from this machine's apt sources at run time.
# - The CA bundle pip is configured with here goes into the image, so pip inside a build reaches
#   the package index the same way pip on this machine does.
# - Built once: the tag carries a hash of this script, and an image with that tag is reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=bookworm
packages=python3,python3-venv,python3-pip,ca-certificates
tag=hpo-operator-base:${suite}-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)

if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi

mirror() { # the first Debian archive URL in the apt sources (deb822 or one-line format)
  local files=(/etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list)
  local f url
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    url=$(awk '
      /^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }
      /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } break } }
    ' "$f")
    [[ -n $url ]] && { echo "$url"; return; }
  done
  echo "base-image: no Debian mirror in the apt sources" >&2
  return 1
}

ca_bundle() { # the bundle pip uses on this machine: pip's config, then the usual variables
  local cert
  cert=$(python3 -m pip config get global.cert 2>/dev/null || true)
  for c in "$cert" "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    [[ -n $c && -f $c ]] && { echo "$c"; return; }
  done
  echo "base-image: no CA bundle found" >&2
  return 1
}

command -v debootstrap >/dev/null || { echo "base-image: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
url=$(mirror)
bundle=$(ca_bundle)
root=$(mktemp -d "${TMPDIR:-/tmp}/hpo-base.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap $suite into $root (once; about 3 minutes)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$url" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
install -m 0644 "$bundle" "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# Like python:3.11-slim: `python3` on PATH, UTF-8, and pip told where the CA bundle is.
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  - "$tag" >/dev/null
echo "$tag"
