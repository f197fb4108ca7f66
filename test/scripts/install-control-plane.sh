#!/usr/bin/env bash
# install-control-plane.sh [DEST] — build the envtest control plane of tenantgen's tests
# (etcd 3.7.3 + kube-apiserver 1.37.2) from the Go module proxy only: no GitHub, no
# setup-envtest. `go install MOD@VER` cannot build either (their go.mod files carry
# replace directives), so each is built from a throwaway wrapper module that requires it.
#
#   export KUBEBUILDER_ASSETS="$(test/scripts/install-control-plane.sh | tail -n1)"
#
# DEST defaults to ${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/envtest/k8s-1.37.2-etcd-3.7.3,
# outside the clone so CI runs on the same machine reuse it. Progress goes to stderr; the
# last stdout line is the absolute DEST. A binary whose --version already matches is kept.
# Cost on 2 cores: cold caches ~4.5 min; warm GOCACHE ~7 s; both binaries present ~0.1 s.
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

# Capture first: `bin --version | grep -q` can die of SIGPIPE under pipefail.
has() { local v; [ -x "$DEST/$1" ] && v="$("$DEST/$1" --version 2>/dev/null)" && [[ $v == *"$2"* ]]; }

# Keep these flags fixed: GOCACHE hits need identical flags (a change recompiles ~4 min).
export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# wrapper NAME MODULE VERSION TOOL_PKG: a module that requires MODULE and imports TOOL_PKG.
wrapper() {
  local dir="$TMP/$1" gomod
  mkdir -p "$dir"
  gomod="$(cd "$dir" && go mod download -json "$2@v$3" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || die "cannot download $2@v$3 from the module proxy"
  {
    printf 'module tenantgen.local/build-%s\n\ngo %s\n\nrequire %s v%s\n' \
      "$1" "$(awk '$1 == "go" {print $2; exit}' "$gomod")" "$2" "$3"
    if [ "$1" = kube-apiserver ]; then
      # kubernetes requires its staging repos at v0.0.0 (replaced by ./staging/src/...);
      # point each at its published v0.MINOR.PATCH tag instead.
      printf '\nreplace (\n'
      awk -v v="v0.${3#1.}" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {printf "\t%s => %s %s\n", $1, $1, v}' "$gomod" | sort -u
      printf ')\n'
    fi
  } >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$4" >"$dir/tools.go"
  (cd "$dir" && go mod tidy) || die "go mod tidy failed for $2"
}

# build NAME PKG LDFLAGS: compile in the wrapper, then copy + rename into DEST.
build() {
  local t=$SECONDS
  (cd "$TMP/$1" && go build -trimpath -ldflags "$3" -o "$TMP/$1.bin" "$2") || die "building $1 failed"
  cp "$TMP/$1.bin" "$DEST/.$1.new" && chmod 0755 "$DEST/.$1.new" && mv -f "$DEST/.$1.new" "$DEST/$1"
  log "$1 built in $((SECONDS - t))s: $("$DEST/$1" --version | head -n1)"
}

log "DEST=$DEST ($(go version))"

if has etcd "etcd Version: $ETCD"; then
  log "etcd $ETCD present, skipping"
else
  log "building etcd $ETCD (cold ~40 s, warm ~1 s)"
  wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD" go.etcd.io/etcd/server/v3
  build etcd go.etcd.io/etcd/server/v3 "-s -w"
fi

if has kube-apiserver "Kubernetes v$K8S"; then
  log "kube-apiserver v$K8S present, skipping"
else
  log "building kube-apiserver v$K8S (cold ~4 min, warm ~5 s)"
  wrapper kube-apiserver k8s.io/kubernetes "$K8S" k8s.io/kubernetes/cmd/kube-apiserver
  ldflags="-s -w"
  minor="${K8S#1.}" && minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=v$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
fi

if ! has etcd "etcd Version: $ETCD" || ! has kube-apiserver "Kubernetes v$K8S"; then
  die "version check failed in $DEST"
fi
log "done; export KUBEBUILDER_ASSETS=$DEST"
printf '%s\n' "$DEST"
