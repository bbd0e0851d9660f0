#!/usr/bin/env bash
# Builds the test ground's binaries from the Go module proxy with this machine's Go, once:
# kube-apiserver + kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server), helm, and
# argocd-health (Argo CD's own health engine, hack/argocd-health: its go.mod asks for Go 1.27, which
# GOTOOLCHAIN fetches through the module proxy like any module).
# They are cached under ~/.cache/hpo-operator/ by version, so later runs only check they exist.
# If KUBEBUILDER_ASSETS names a folder that already holds kube-apiserver and etcd, those are used.
# Prints nothing but errors; `hack/build-tools.sh --print-env` prints the paths as shell variables.
set -euo pipefail

# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$here/envtest/go.mod")
helm_version=$(awk '$1=="require" && $2=="helm.sh/helm/v3"{print $3; exit}' "$here/helm/go.mod")
helm_client_go=$(awk '$1=="k8s.io/client-go"{print $2; exit}' "$here/helm/go.mod")
envtest_dir=$cache/envtest/k8s-${k8s_version#v}-etcd-${etcd_version#v}
helm_dir=$cache/helm/${helm_version}
argo_version=$(awk '$1=="github.com/argoproj/argo-cd/v3"{print $2; exit}' "$here/argocd-health/go.mod")
argo_go=go$(awk '$1=="go"{print $2; exit}' "$here/argocd-health/go.mod")
[[ $argo_version == v* && $argo_go == go1.* ]] || {
  echo "hack/argocd-health/go.mod: no Argo CD version or go line" >&2
  exit 1
}
# Keyed by the Argo CD version and the program's own sources, so an edit to main.go rebuilds it.
argo_sum=$(cat "$here/argocd-health/go.mod" "$here/argocd-health/go.sum" "$here"/argocd-health/*.go |
  sha256sum | cut -c1-12)
argo_dir=$cache/argocd-health/${argo_version}-${argo_sum}

# helm stamps its version and the Kubernetes minor it checks charts against the same way.
helm_k8s_minor=${helm_client_go#v0.}; helm_k8s_minor=${helm_k8s_minor%%.*}
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
done

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  envtest_dir=$KUBEBUILDER_ASSETS
elif [[ ! -x "$envtest_dir/etcd" || ! -x "$envtest_dir/kubectl" ]] ||
  ! stamped "Kubernetes $k8s_version" "$envtest_dir/kube-apiserver" --version; then
  echo "building kube-apiserver, kubectl ${k8s_version} and etcd ${etcd_version} (once; cached in $envtest_dir)" >&2
  build "$envtest_dir" "$here/envtest" "$k8s_ldflags" \
    ./etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
fi
kubectl_bin=$envtest_dir/kubectl
if [[ ! -x "$kubectl_bin" ]]; then
  kubectl_bin=$cache/envtest/kubectl-${k8s_version#v}/kubectl
  [[ -x "$kubectl_bin" ]] ||
    build "$(dirname "$kubectl_bin")" "$here/envtest" "$k8s_ldflags" k8s.io/kubernetes/cmd/kubectl
fi
if ! stamped "$helm_version" "$helm_dir/helm" version --short; then
  echo "building helm ${helm_version} (once; cached in $helm_dir)" >&2
  build "$helm_dir" "$here/helm" "$helm_ldflags" helm.sh/helm/v3/cmd/helm
fi
if ! stamped "$argo_version" "$argo_dir/argocd-health" --version; then
  echo "building argocd-health against Argo CD ${argo_version} with ${argo_go} (once; cached in $argo_dir)" >&2
  (export GOTOOLCHAIN=$argo_go && build "$argo_dir" "$here/argocd-health" "" .)
fi

if [[ "${1:-}" == "--print-env" ]]; then
  echo "KUBEBUILDER_ASSETS=$envtest_dir"
  echo "KUBECTL=$kubectl_bin"
  echo "HELM=$helm_dir/helm"
  echo "ARGOCD_HEALTH=$argo_dir/argocd-health"
fi
