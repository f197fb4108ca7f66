#!/usr/bin/env bash
# install-helm-docs.sh [DEST] — build helm-docs, which generates charts/tenantgen/README.md from
# values.yaml and README.md.gotmpl, from the Go module proxy only (nothing from GitHub).
#
#   HELM_DOCS="$(test/scripts/install-helm-docs.sh | tail -n1)"
#
# DEST defaults to ${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/helm-docs/$HELM_DOCS_VERSION,
# outside the clone so CI runs on the same machine reuse it. Progress goes to stderr; the
# last stdout line is the absolute path of the helm-docs binary. A binary whose `--version`
# already matches is kept. Cost on 2 cores: cold caches ~1 min; binary present ~0.1 s.
#
# `go install` leaves helm-docs' version empty (goreleaser sets main.version): it is set with
# ldflags so that `helm-docs --version` names the version checked below.
set -euo pipefail

readonly HELM_DOCS_VERSION="${HELM_DOCS_VERSION:-v1.14.2}"
DEST="${1:-${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/helm-docs/$HELM_DOCS_VERSION}"

START=$SECONDS
log() { printf '[helm-docs +%3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
command -v go >/dev/null || die "go is not in PATH"
case "$HELM_DOCS_VERSION" in v1.*) ;; *) die "HELM_DOCS_VERSION must be a helm-docs v1 release (v1.x.y), got $HELM_DOCS_VERSION" ;; esac

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
exec 9>"$DEST/.lock"
flock 9 # one build per DEST at a time; a waiting run then finds the binary and skips

# Capture first: `helm-docs --version | grep -q` can die of SIGPIPE under pipefail.
has() { local v; [ -x "$DEST/helm-docs" ] && v="$("$DEST/helm-docs" --version 2>/dev/null)" && [[ $v == *" ${HELM_DOCS_VERSION#v}" ]]; }

if has; then
  log "helm-docs $HELM_DOCS_VERSION present in $DEST, skipping"
else
  log "building helm-docs $HELM_DOCS_VERSION with go install"
  # Keep these flags fixed: GOCACHE hits need identical flags.
  export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && GOBIN="$TMP/bin" go install -trimpath -ldflags "-s -w -X main.version=${HELM_DOCS_VERSION#v}" \
    "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION") ||
    die "go install github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION failed"
  cp "$TMP/bin/helm-docs" "$DEST/.helm-docs.new" && chmod 0755 "$DEST/.helm-docs.new" && mv -f "$DEST/.helm-docs.new" "$DEST/helm-docs"
  has || die "version check failed: $DEST/helm-docs --version = $("$DEST/helm-docs" --version 2>&1 || true)"
  log "helm-docs built in $((SECONDS - START))s: $("$DEST/helm-docs" --version)"
fi
printf '%s\n' "$DEST/helm-docs"
