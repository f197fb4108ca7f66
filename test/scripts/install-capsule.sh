#!/usr/bin/env bash
# install-capsule.sh [DEST] — build the real Capsule manager (cmd/controller of
# github.com/projectcapsule/capsule, pinned version) for the e2e suite that runs it next to
# tenantgen on envtest. Built from the Go module proxy only, in a throwaway wrapper module
# with Capsule's own dependency versions (its go.mod), not tenantgen's.
#
#   export CAPSULE_MANAGER="$(test/scripts/install-capsule.sh | tail -n1)"
#
# DEST defaults to ${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/capsule-$CAPSULE_VERSION, outside
# the clone so CI runs on the same machine reuse it. Progress goes to stderr; the last stdout
# line is the absolute path of the binary. A binary whose `--version` log names the pinned tag
# is kept. Cost on 2 cores: cold caches ~6-10 min; warm GOCACHE ~10 s; binary present ~0.1 s.
set -euo pipefail

readonly CAPSULE_VERSION="${CAPSULE_VERSION:-v0.14.0}" MODULE=github.com/projectcapsule/capsule
DEST="${1:-${TENANTGEN_CACHE:-$HOME/.cache/tenantgen}/capsule-$CAPSULE_VERSION}"

START=$SECONDS
log() { printf '[capsule +%3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
command -v go >/dev/null || die "go is not in PATH"

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
exec 9>"$DEST/.lock"
flock 9 # one build per DEST at a time; a waiting run then finds the binary and skips

# The manager logs "Capsule Version <tag> ..." and exits with --version. Capture first:
# `bin --version | grep -q` can die of SIGPIPE under pipefail.
has() { local v; [ -x "$DEST/capsule" ] && v="$("$DEST/capsule" --version 2>&1)" && [[ $v == *"Capsule Version $CAPSULE_VERSION "* && $v != *" dirty"* ]]; }

if has; then
  log "capsule $CAPSULE_VERSION present in $DEST, skipping"
else
  log "building capsule $CAPSULE_VERSION (cold ~6-10 min, warm ~10 s)"
  # Keep these flags fixed: GOCACHE hits need identical flags.
  export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  info="$(cd "$TMP" && go mod download -json "$MODULE@$CAPSULE_VERSION")"
  gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  commit="$(sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",\{0,1\}$/\1/p' <<<"$info" | head -n1)"
  [ -f "$gomod" ] || die "cannot download $MODULE@$CAPSULE_VERSION from the module proxy"
  printf 'module tenantgen.local/build-capsule\n\ngo %s\n\nrequire %s %s\n' \
    "$(awk '$1 == "go" {print $2; exit}' "$gomod")" "$MODULE" "$CAPSULE_VERSION" >"$TMP/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/controller"\n' "$MODULE" >"$TMP/tools.go"
  (cd "$TMP" && go mod tidy) || die "go mod tidy failed"
  # The binary's file name is its user agent ("capsule/v0.0.0 ...").
  v="$MODULE/internal/version"
  ldflags="-s -w -X $v.GitTag=$CAPSULE_VERSION -X $v.GitCommit=${commit:0:8} -X $v.GitDirty= -X $v.GitRepo=$MODULE"
  (cd "$TMP" && go build -trimpath -ldflags "$ldflags" -o "$TMP/capsule" "$MODULE/cmd/controller") ||
    die "building $MODULE/cmd/controller failed"
  cp "$TMP/capsule" "$DEST/.capsule.new" && chmod 0755 "$DEST/.capsule.new" && mv -f "$DEST/.capsule.new" "$DEST/capsule"
  has || die "version check failed for $DEST/capsule"
  log "capsule built in $((SECONDS - START))s"
fi
printf '%s\n' "$DEST/capsule"
