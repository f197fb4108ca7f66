#!/usr/bin/env bash
# install-helm.sh [DEST] — build helm for the chart tests from the Go module proxy only
# (Debian has no helm package, and nothing is downloaded from GitHub or get.helm.sh).
#
#   export HELM="$(test/scripts/install-helm.sh | tail -n1)"
#
# DEST defaults to ${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/helm/$HELM_VERSION, outside the
# clone so CI runs on the same machine reuse it. Progress goes to stderr; the last stdout
# line is the absolute path of the helm binary. A binary whose `helm version --short`
# already matches is kept. Cost on 2 cores: cold caches ~1.5-2 min; warm GOCACHE ~6 s;
# binary present ~0.1 s.
#
# A plain `go install` of helm has two pitfalls, both fixed with ldflags:
#   - `helm version` says "v3.22" instead of "v3.22.0" (internal/version.version);
#   - helm v3's default .Capabilities.KubeVersion is v1.20.0, so `helm lint`/`helm template`
#     without a cluster would check charts against Kubernetes 1.20 (chartutil and
#     lint/rules k8sVersionMajor/Minor). It is set to the test control plane's 1.37.
set -euo pipefail

readonly HELM_VERSION="${HELM_VERSION:-v3.22.0}" KUBE_MINOR="${HELM_KUBE_MINOR:-37}"
DEST="${1:-${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/helm/$HELM_VERSION}"

START=$SECONDS
log() { printf '[helm +%3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
command -v go >/dev/null || die "go is not in PATH"
case "$HELM_VERSION" in v3.*) ;; *) die "HELM_VERSION must be a helm v3 release (v3.x.y), got $HELM_VERSION" ;; esac

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
exec 9>"$DEST/.lock"
flock 9 # one build per DEST at a time; a waiting run then finds the binary and skips

# Capture first: `helm version | grep -q` can die of SIGPIPE under pipefail.
has() { local v; [ -x "$DEST/helm" ] && v="$("$DEST/helm" version --short 2>/dev/null)" && [[ $v == "$HELM_VERSION" || $v == "$HELM_VERSION+"* ]]; }

if has; then
  log "helm $HELM_VERSION present in $DEST, skipping"
else
  log "building helm $HELM_VERSION with go install (cold ~1.5-2 min, warm ~6 s)"
  # Keep these flags fixed: GOCACHE hits need identical flags.
  export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$KUBE_MINOR"
  done
  (cd "$TMP" && GOBIN="$TMP/bin" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") ||
    die "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
  cp "$TMP/bin/helm" "$DEST/.helm.new" && chmod 0755 "$DEST/.helm.new" && mv -f "$DEST/.helm.new" "$DEST/helm"
  has || die "version check failed: $DEST/helm version --short = $("$DEST/helm" version --short 2>&1 || true)"
  log "helm built in $((SECONDS - START))s: $("$DEST/helm" version --short)"
fi
printf '%s\n' "$DEST/helm"
