# Sourced by hack/build-tools.sh and hack/build-node.sh: what both need to build Kubernetes
# binaries from the Go module proxy into the cache. Sets `here` (hack/), `cache`, `k8s_version`,
# `k8s_ldflags`; defines build() and stamped().
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${HPO_CACHE_DIR:-$HOME/.cache/hpo-operator}
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/envtest/go.mod")

export GOFLAGS="-mod=mod -modcacherw -trimpath"
export CGO_ENABLED=0

# A plain `go build` stamps v0.0.0-master into Kubernetes binaries, which breaks helm's
# `kubeVersion` checks and makes kubectl warn about version skew: set what their Makefile sets.
k8s_minor=${k8s_version#v1.}; k8s_minor=${k8s_minor%%.*}
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done

build() { # build DIR MODULE_DIR LDFLAGS PKG...: go build into a temporary folder, then move in
  local out=$1 mod=$2 ldflags=$3; shift 3
  local tmp
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$mod" && go build -ldflags="-s -w $ldflags" -o "$tmp/" "$@")
  mkdir -p "$out"
  for f in "$tmp"/*; do mv -f "$f" "$out/"; done
  rmdir "$tmp"
  trap - EXIT
}

stamped() { # stamped VERSION BINARY ARGS...: true if `BINARY ARGS...` runs and prints VERSION
  local want=$1 out; shift
  [[ -x "$1" ]] && out=$("$@" 2>/dev/null) && [[ $out == *"$want"* ]]
}

mkdir -p "$cache"
