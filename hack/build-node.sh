#!/usr/bin/env bash
# Builds the node tier's binaries from the Go module proxy with this machine's Go, once:
# kubelet, kube-controller-manager, kube-scheduler and kube-proxy from k8s.io/kubernetes (the
# version hack/envtest/go.mod pins for kube-apiserver, same ldflags as hack/build-tools.sh), and
# `pause`, the pod sandbox's process (hack/node/pause, no dependencies), turned into an OCI image
# tarball that containerd imports (no registry is reachable here, so the sandbox image is local).
# Cached under ~/.cache/hpo-operator/node/k8s-VERSION/, so later runs only check they exist.
# Prints nothing but errors; `--print-env` prints HPO_NODE_BIN=the folder.
set -euo pipefail

# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
pause_sum=$(sha256sum "$here/node/pause/main.go" "$here/node/pause/go.mod" "$0" | sha256sum | cut -c1-12)
node_dir=$cache/node/k8s-${k8s_version#v}

want=("$node_dir/kube-controller-manager" "$node_dir/kube-scheduler" "$node_dir/kube-proxy")
missing=0
for f in "${want[@]}"; do [[ -x $f ]] || missing=1; done
if ((missing)) || ! stamped "Kubernetes $k8s_version" "$node_dir/kubelet" --version; then
  echo "building kubelet, kube-controller-manager, kube-scheduler, kube-proxy ${k8s_version} (once; cached in $node_dir)" >&2
  began=$SECONDS
  build "$node_dir" "$here/envtest" "$k8s_ldflags" k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-proxy
  echo "built the node binaries in $((SECONDS - began)) s" >&2
fi

# The sandbox image: one static binary as an OCI image layout tarball (`ctr images import`).
pause_tar=$node_dir/pause-$pause_sum.tar
if [[ ! -s $pause_tar ]]; then
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$here/node/pause" && go build -ldflags="-s -w" -o "$tmp/rootfs/pause" .)
  python3 "$here/node/oci_image.py" --rootfs "$tmp/rootfs" --entrypoint /pause \
    --name localhost/hpo-operator/pause:dev --output "$tmp/pause.tar"
  mkdir -p "$node_dir"
  mv -f "$tmp/pause.tar" "$pause_tar"
  rm -rf "$tmp"
  trap - EXIT
fi

if [[ "${1:-}" == "--print-env" ]]; then
  echo "HPO_NODE_BIN=$node_dir"
  echo "HPO_PAUSE_IMAGE_TAR=$pause_tar"
fi
