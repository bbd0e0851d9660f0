#!/usr/bin/env bash
# Builds the test ground's binaries from the Go module proxy with this machine's Go, once:
# kube-apiserver + kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server) and helm.
# They are cached under ~/.cache/hpo-operator/ by version, so later runs only check they exist.
# If KUBEBUILDER_ASSETS names a folder that already holds kube-apiserver and etcd, those are used.
# Prints nothing but errors; `hack/build-tools.sh --print-env` prints the paths as shell variables.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${HPO_CACHE_DIR:-$HOME/.cache/hpo-operator}
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/envtest/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$here/envtest/go.mod")
helm_version=$(awk '$1=="require" && $2=="helm.sh/helm/v3"{print $3; exit}' "$here/helm/go.mod")
envtest_dir=$cache/envtest/k8s-${k8s_version#v}-etcd-${etcd_version#v}
helm_dir=$cache/helm/${helm_version}

export GOFLAGS="-mod=mod -modcacherw -trimpath"
export CGO_ENABLED=0

build() { # build DIR MODULE_DIR PKG...
  local out=$1 mod=$2; shift 2
  local tmp
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  (cd "$mod" && go build -ldflags="-s -w" -o "$tmp/" "$@")
  mkdir -p "$out"
  for f in "$tmp"/*; do mv -f "$f" "$out/"; done
  rmdir "$tmp"
}

mkdir -p "$cache"
if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  envtest_dir=$KUBEBUILDER_ASSETS
elif [[ ! -x "$envtest_dir/kube-apiserver" || ! -x "$envtest_dir/etcd" || ! -x "$envtest_dir/kubectl" ]]; then
  echo "building kube-apiserver, kubectl ${k8s_version} and etcd ${etcd_version} (once; cached in $envtest_dir)" >&2
  build "$envtest_dir" "$here/envtest" ./etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
fi
kubectl_bin=$envtest_dir/kubectl
if [[ ! -x "$kubectl_bin" ]]; then
  kubectl_bin=$cache/envtest/kubectl-${k8s_version#v}/kubectl
  [[ -x "$kubectl_bin" ]] || build "$(dirname "$kubectl_bin")" "$here/envtest" k8s.io/kubernetes/cmd/kubectl
fi
if [[ ! -x "$helm_dir/helm" ]]; then
  echo "building helm ${helm_version} (once; cached in $helm_dir)" >&2
  build "$helm_dir" "$here/helm" helm.sh/helm/v3/cmd/helm
fi

if [[ "${1:-}" == "--print-env" ]]; then
  echo "KUBEBUILDER_ASSETS=$envtest_dir"
  echo "KUBECTL=$kubectl_bin"
  echo "HELM=$helm_dir/helm"
fi
