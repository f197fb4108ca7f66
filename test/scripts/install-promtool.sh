#!/usr/bin/env bash
# install-promtool.sh [DEST] — build promtool for the chart tests (`promtool check rules` and
# `promtool test rules` on the chart's PrometheusRule) from the Go module proxy only: no GitHub
# release tarball, no container image.
#
#   export PROMTOOL="$(test/scripts/install-promtool.sh | tail -n1)"
#
# DEST defaults to ${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/promtool/$PROMTOOL_VERSION, outside
# the clone so CI runs on the same machine reuse it. Progress goes to stderr; the last stdout
# line is the absolute path of the promtool binary. A binary whose `promtool --version` already
# matches is kept. Cost on 2 cores: cold caches 18 min of wall time next to two other Go builds
# (4m50s of CPU time); binary present ~0.2 s.
#
# Prometheus publishes its Go module as github.com/prometheus/prometheus v0.3MM.P for the
# release 3.MM.P. Two details of a plain `go install`:
#   - promtool's --version is empty; the release named in the module's VERSION file and the
#     module version (as the revision) are stamped into github.com/prometheus/common/version
#     with ldflags, and the revision is what the "already built" check compares;
#   - promtool registers every service-discovery plugin (AWS, Azure, GCE, Kubernetes, ...),
#     which the rule commands never use: the tag remove_all_sd leaves them out and saves most
#     of the compile time.
set -euo pipefail

readonly PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}" MODULE=github.com/prometheus/prometheus
DEST="${1:-${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/promtool/$PROMTOOL_VERSION}"

START=$SECONDS
log() { printf '[promtool +%3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
command -v go >/dev/null || die "go is not in PATH"
case "$PROMTOOL_VERSION" in v0.3[0-9][0-9].*) ;; *) die "PROMTOOL_VERSION must be a Prometheus 3 module version (v0.3MM.P), got $PROMTOOL_VERSION" ;; esac

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
exec 9>"$DEST/.lock"
flock 9 # one build per DEST at a time; a waiting run then finds the binary and skips

# The build stamps the module version as the revision:
#   promtool, version 3.16.0 (branch: HEAD, revision: v0.316.0)
# Capture first: `promtool --version | grep -q` can die of SIGPIPE under pipefail.
has() { local v; [ -x "$DEST/promtool" ] && v="$("$DEST/promtool" --version 2>&1)" && [[ $v == "promtool, version "*"revision: $PROMTOOL_VERSION)"* ]]; }

if has; then
  log "promtool $PROMTOOL_VERSION present in $DEST, skipping"
else
  # Keep these flags fixed: GOCACHE hits need identical flags.
  export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  dir="$(cd "$TMP" && go mod download -json "$MODULE@$PROMTOOL_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$dir/VERSION" ] || die "cannot download $MODULE@$PROMTOOL_VERSION from the module proxy"
  release="$(tr -d '[:space:]' <"$dir/VERSION")"
  log "building promtool $PROMTOOL_VERSION (Prometheus $release) with go install"
  v=github.com/prometheus/common/version
  ldflags="-s -w -X $v.Version=$release -X $v.Branch=HEAD -X $v.Revision=$PROMTOOL_VERSION"
  (cd "$TMP" && GOBIN="$TMP/bin" go install -trimpath -tags remove_all_sd -ldflags "$ldflags" \
    "$MODULE/cmd/promtool@$PROMTOOL_VERSION") || die "go install $MODULE/cmd/promtool@$PROMTOOL_VERSION failed"
  cp "$TMP/bin/promtool" "$DEST/.promtool.new" && chmod 0755 "$DEST/.promtool.new" && mv -f "$DEST/.promtool.new" "$DEST/promtool"
  has || die "version check failed: $DEST/promtool --version = $("$DEST/promtool" --version 2>&1 || true)"
  log "promtool built in $((SECONDS - START))s: $("$DEST/promtool" --version 2>&1 | head -n1)"
fi
printf '%s\n' "$DEST/promtool"
