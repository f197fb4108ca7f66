#!/usr/bin/env bash
# install-control-plane.sh [DEST] — build the envtest control plane of tenantgen's tests
# (etcd 3.7.3 + kube-apiserver 1.37.2) and kubectl 1.37.2 (the demo's `kubectl wait`) from
# the Go module proxy only: no GitHub, no setup-envtest. `go install MOD@VER` cannot build
# them (their go.mod files carry replace directives), so each is built from a throwaway
# wrapper module that requires it; kube-apiserver and kubectl share one wrapper of
# k8s.io/kubernetes, so kubectl reuses the packages compiled for kube-apiserver.
#
#   export KUBEBUILDER_ASSETS="$(test/scripts/install-control-plane.sh | tail -n1)"
#
# DEST defaults to ${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/envtest/k8s-1.37.2-etcd-3.7.3,
# outside the clone so CI runs on the same machine reuse it; envtest (and controller-runtime's
# envtest kubectl helper) find kubectl there too. Progress goes to stderr; the last stdout
# line is the absolute DEST. A binary whose version already matches is kept, so a DEST with
# etcd and kube-apiserver but no kubectl builds only kubectl.
# Cost on 2 cores: cold caches ~4.5 min + ~1.5 min for kubectl; kubectl alone after
# kube-apiserver (its packages in GOCACHE) ~1.5 CPU-min (measured 114 s with other builds
# loading the machine); warm GOCACHE ~10 s; all three present ~0.2 s.
set -euo pipefail

readonly K8S=1.37.2 ETCD=3.7.3
DEST="${1:-${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/envtest/k8s-$K8S-etcd-$ETCD}"

START=$SECONDS
log() { printf '[control-plane +%3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
command -v go >/dev/null || die "go is not in PATH"

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
exec 9>"$DEST/.lock"
flock 9 # one build per DEST at a time; a waiting run then finds the binaries and skips

# has NAME WANT [ARGS...]: DEST/NAME exists and `NAME ARGS` (default --version) prints WANT.
# Capture first: `bin --version | grep -q` can die of SIGPIPE under pipefail.
has() {
  local bin="$DEST/$1" want="$2" v
  shift 2
  [ $# -gt 0 ] || set -- --version
  [ -x "$bin" ] && v="$("$bin" "$@" 2>/dev/null)" && [[ $v == *"$want"* ]]
}
has_etcd() { has etcd "etcd Version: $ETCD"; }
has_apiserver() { has kube-apiserver "Kubernetes v$K8S"; }
has_kubectl() { has kubectl "Client Version: v$K8S" version --client; }

# Keep these flags fixed: GOCACHE hits need identical flags (a change recompiles ~4 min).
export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# wrapper NAME MODULE VERSION TOOL_PKG...: a module that requires MODULE and imports TOOL_PKGs.
wrapper() {
  local dir="$TMP/$1" gomod
  mkdir -p "$dir"
  gomod="$(cd "$dir" && go mod download -json "$2@v$3" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || die "cannot download $2@v$3 from the module proxy"
  {
    printf 'module tenantgen.local/build-%s\n\ngo %s\n\nrequire %s v%s\n' \
      "$1" "$(awk '$1 == "go" {print $2; exit}' "$gomod")" "$2" "$3"
    if [ "$2" = k8s.io/kubernetes ]; then
      # kubernetes requires its staging repos at v0.0.0 (replaced by ./staging/src/...);
      # point each at its published v0.MINOR.PATCH tag instead.
      printf '\nreplace (\n'
      awk -v v="v0.${3#1.}" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {printf "\t%s => %s %s\n", $1, $1, v}' "$gomod" | sort -u
      printf ')\n'
    fi
  } >"$dir/go.mod"
  local name="$1" mod="$2"
  shift 3
  { printf '//go:build tools\n\npackage tools\n\n'; printf 'import _ "%s"\n' "$@"; } >"$dir/tools.go"
  (cd "$dir" && go mod tidy) || die "go mod tidy failed for $mod ($name)"
}

# build NAME WRAPPER PKG LDFLAGS [VERSION_ARGS...]: compile in the wrapper, then copy + rename
# into DEST.
build() {
  local name="$1" wrap="$2" pkg="$3" ldflags="$4" t=$SECONDS
  shift 4
  [ $# -gt 0 ] || set -- --version
  (cd "$TMP/$wrap" && go build -trimpath -ldflags "$ldflags" -o "$TMP/$name.bin" "$pkg") || die "building $name failed"
  cp "$TMP/$name.bin" "$DEST/.$name.new" && chmod 0755 "$DEST/.$name.new" && mv -f "$DEST/.$name.new" "$DEST/$name"
  log "$name built in $((SECONDS - t))s: $("$DEST/$name" "$@" 2>/dev/null | head -n1)"
}

log "DEST=$DEST ($(go version))"

if has_etcd; then
  log "etcd $ETCD present, skipping"
else
  log "building etcd $ETCD (cold ~40 s, warm ~1 s)"
  wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD" go.etcd.io/etcd/server/v3
  build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
fi

# kube-apiserver and kubectl: one wrapper (named kube-apiserver), the same flags, so every
# package they share is a GOCACHE hit; the version ldflags only touch the link step.
need_apiserver=1 need_kubectl=1
has_apiserver && need_apiserver=0 && log "kube-apiserver v$K8S present, skipping"
has_kubectl && need_kubectl=0 && log "kubectl v$K8S present, skipping"
if [ $need_apiserver = 1 ] || [ $need_kubectl = 1 ]; then
  wrapper kube-apiserver k8s.io/kubernetes "$K8S" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  ldflags="-s -w"
  minor="${K8S#1.}" && minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=v$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  if [ $need_apiserver = 1 ]; then
    log "building kube-apiserver v$K8S (cold ~4 min, warm ~5 s)"
    build kube-apiserver kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
  fi
  if [ $need_kubectl = 1 ]; then
    log "building kubectl v$K8S (after kube-apiserver ~1.5 min, warm ~5 s)"
    build kubectl kube-apiserver k8s.io/kubernetes/cmd/kubectl "$ldflags" version --client
  fi
fi

has_etcd || die "version check of etcd failed in $DEST"
has_apiserver || die "version check of kube-apiserver failed in $DEST"
has_kubectl || die "version check of kubectl failed in $DEST"
log "done; export KUBEBUILDER_ASSETS=$DEST"
printf '%s\n' "$DEST"
